#!/usr/bin/env bash
# Runs every benchmark. CONNECT_GR_BENCH_QUICK=1 (as in CI) only checks that they work.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=()
# Quick mode reuses the test build instead of compiling a release build of the AWS SDK.
[ "${CONNECT_GR_BENCH_QUICK:-0}" = 1 ] && profile=(--profile dev)
for b in benches/*.rs; do
  [ -f "$b" ] || continue
  name=$(basename "$b" .rs)
  cargo bench "${profile[@]}" --bench "$name"
done
