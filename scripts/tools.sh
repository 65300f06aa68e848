#!/usr/bin/env bash
# Installs (once) and caches under .tools/ everything the test suites need.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools/bin
for step in scripts/tools.d/*.sh; do
  [ -f "$step" ] || continue
  echo "== tools: $step"
  bash "$step"
done
