#!/usr/bin/env bash
# Builds (once) .tools/bin/connect-gr-argocd-health from scripts/argocd-health: the Argo CD
# health-check runner (gopher-lua from the Go module proxy, run the way Argo CD runs a
# resource.customizations health script). Rebuilt when that directory changes.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
src=scripts/argocd-health
bin=.tools/bin/connect-gr-argocd-health
stamp=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)
if [ -x "$bin" ] && [ "$(cat "$bin.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "argocd-health: $bin"
  exit 0
fi
command -v go >/dev/null || { echo "argocd-health tools: go is required" >&2; exit 1; }
mkdir -p .tools/bin .tools/go
(cd "$src" && GOPATH=$ROOT/.tools/go GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$ROOT/$bin" .)
echo "$stamp" >"$bin.stamp"
echo "argocd-health: built $bin"
