#!/usr/bin/env bash
# Installs (once) promtool from the Go module proxy into .tools/bin/promtool (the alert tests:
# `promtool check rules` on the rendered chart's PrometheusRule and `promtool test rules` over
# tests/promtool/). Rebuilt when PROMTOOL_VERSION changes. A cold build takes several minutes.
# PROMTOOL_VERSION is the Prometheus Go module version (v0.316.0 is Prometheus 3.16.0).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PROMTOOL_VERSION=${PROMTOOL_VERSION:-v0.316.0}
bin=.tools/bin/promtool
if [ -x "$bin" ] && [ "$(cat "$bin.stamp" 2>/dev/null)" = "$PROMTOOL_VERSION" ]; then
  echo "promtool: $bin ($PROMTOOL_VERSION)"
  exit 0
fi
command -v go >/dev/null || { echo "promtool tools: go is required" >&2; exit 1; }
mkdir -p .tools/bin .tools/go
echo "promtool tools: go install github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION (cold: several minutes)"
start=$SECONDS
GOPATH=$ROOT/.tools/go GOBIN=$ROOT/.tools/bin GOFLAGS=-mod=mod CGO_ENABLED=0 \
  nice -n 10 go install -trimpath -ldflags "-s -w" \
  "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION"
echo "$PROMTOOL_VERSION" >"$bin.stamp"
"$bin" --version | head -1
echo "promtool tools: built in $((SECONDS - start))s"
