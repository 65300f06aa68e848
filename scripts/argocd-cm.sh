#!/usr/bin/env bash
# Writes deploy/argocd/argocd-cm.yaml from deploy/argocd/health.lua: one
# resource.customizations.health.<group>_<kind> entry per connectgr.io kind (the form every Argo
# CD version reads). tests/it/argocd.rs fails when the file is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
out=deploy/argocd/argocd-cm.yaml
{
  cat <<'HEAD'
# Argo CD health checks for the six connectgr.io kinds; generated from health.lua by
# scripts/argocd-cm.sh (do not edit). Merge into Argo CD's argocd-cm ConfigMap:
#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file deploy/argocd/argocd-cm.yaml
# (or as a kustomize patch of argocd-cm; with the argo-cd Helm chart, under configs.cm).
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
HEAD
  for kind in InstanceReplica TrafficDistributionGroup AgentMembership TrafficDistribution CallerDenylist FailoverDrill; do
    echo "  resource.customizations.health.connectgr.io_$kind: |"
    sed 's/^/    /; s/^    $//' deploy/argocd/health.lua
  done
} >"$out"
echo "wrote $out"
