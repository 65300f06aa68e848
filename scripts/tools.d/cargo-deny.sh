#!/usr/bin/env bash
# Installs (once) cargo-deny into .tools/bin/cargo-deny (`cargo install cargo-deny --locked`;
# `scripts/deny.sh` runs it in `make test`: licenses, bans, sources, and advisories when the
# advisory database can be reached). Reinstalled when CARGO_DENY_VERSION changes. A cold install
# is a compile of its own: about 290 s of CPU (717 s wall while other builds shared the 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CARGO_DENY_VERSION=${CARGO_DENY_VERSION:-0.20.2}
bin=.tools/bin/cargo-deny
if [ -x "$bin" ] && [ "$(cat "$bin.stamp" 2>/dev/null)" = "$CARGO_DENY_VERSION" ]; then
  echo "cargo-deny: $bin ($CARGO_DENY_VERSION)"
  exit 0
fi
mkdir -p .tools/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "cargo-deny tools: cargo install cargo-deny@$CARGO_DENY_VERSION --locked (cold: a compile of its own)"
start=$SECONDS
CARGO_TARGET_DIR=$tmp/target nice -n 10 cargo install --locked --quiet \
  --root "$tmp/root" "cargo-deny@$CARGO_DENY_VERSION"
install -m 0755 "$tmp/root/bin/cargo-deny" "$bin.new"
mv -f "$bin.new" "$bin"
echo "$CARGO_DENY_VERSION" >"$bin.stamp"
"$bin" --version
echo "cargo-deny tools: installed in $((SECONDS - start))s"
