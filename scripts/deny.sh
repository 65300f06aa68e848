#!/usr/bin/env bash
# `make test`: cargo deny over Cargo.lock with deny.toml: licenses, bans and sources (offline),
# then advisories when the RustSec advisory database can be fetched (skipped, saying so, when it
# cannot). cargo-deny comes from the tools step (scripts/tools.d/cargo-deny.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.tools/bin/cargo-deny
if [ ! -x "$bin" ]; then
  echo "cargo deny: $bin is not installed: run make tools (scripts/tools.d/cargo-deny.sh)" >&2
  exit 1
fi
"$bin" --offline check --hide-inclusion-graph licenses bans sources
# The gate can fail: the same config without MIT in the allow list must refuse the graph.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -v '^    "MIT",$' deny.toml >"$tmp/deny.toml"
if "$bin" --offline --config "$tmp/deny.toml" check licenses >/dev/null 2>&1; then
  echo "cargo deny: the licence check passed without MIT allowed: it checks nothing" >&2
  exit 1
fi
if "$bin" fetch db >/dev/null 2>&1; then
  "$bin" --offline check --hide-inclusion-graph advisories
else
  echo "cargo deny: advisories SKIPPED: the RustSec advisory database" \
    "(https://github.com/RustSec/advisory-db) cannot be reached from this machine" >&2
fi
