#!/usr/bin/env bash
# Installs (once) Helm from the Go module proxy into .tools/bin/helm (the chart tests:
# helm lint, helm template, helm install/upgrade into the test bed). Rebuilt when HELM_VERSION
# changes. A cold build takes a few minutes (module download + compile).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
HELM_VERSION=${HELM_VERSION:-v3.22.0}
bin=.tools/bin/helm
if [ -x "$bin" ] && [ "$(cat "$bin.stamp" 2>/dev/null)" = "$HELM_VERSION" ]; then
  echo "helm: $bin ($HELM_VERSION)"
  exit 0
fi
command -v go >/dev/null || { echo "helm tools: go is required" >&2; exit 1; }
mkdir -p .tools/bin .tools/go
echo "helm tools: go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION (cold: a few minutes)"
start=$SECONDS
GOPATH=$ROOT/.tools/go GOBIN=$ROOT/.tools/bin GOFLAGS=-mod=mod CGO_ENABLED=0 \
  nice -n 10 go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
echo "$HELM_VERSION" >"$bin.stamp"
"$bin" version --short
echo "helm tools: built in $((SECONDS - start))s"
