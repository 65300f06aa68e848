#!/usr/bin/env bash
# Builds the full kube-apiserver from the Go module proxy into .tools/bin/kube-apiserver.
# k8s.io/kubernetes requires its staging modules at v0.0.0 with local replace directives, so it
# cannot be `go install`ed; this wrapper module requires it and pins every staging module to its
# published version (v1.N.P -> v0.N.P). The go.mod/go.sum here are the result; run with
# REGENERATE=1 to recompute them for another KUBE_VERSION.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
KUBE_VERSION=${KUBE_VERSION:-v1.36.3}
STAGING_VERSION=v0.${KUBE_VERSION#v1.}
export GOPATH=${GOPATH:-$ROOT/.tools/go} GOFLAGS=-mod=mod
if [ "${REGENERATE:-0}" = 1 ] || ! grep -q "k8s.io/kubernetes $KUBE_VERSION" go.mod 2>/dev/null; then
  cat >go.mod <<EOM
module connect-gr.local/testbed-kube-apiserver

go 1.26.0

require k8s.io/kubernetes $KUBE_VERSION
EOM
  rm -f go.sum
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  for m in $(awk '/^\t?k8s.io\/[a-z0-9-]+ v0.0.0$/ {print $1} /^require k8s.io\/[a-z0-9-]+ v0.0.0$/ {print $2}' "$gomod" | sort -u); do
    go mod edit -replace "$m=$m@$STAGING_VERSION"
  done
  go mod tidy
fi
go build -trimpath -o "$ROOT/.tools/bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
