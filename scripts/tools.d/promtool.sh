#!/usr/bin/env bash
# Installs (once) promtool into .tools/bin/promtool for the alert and dashboard tests
# (`promtool check rules` on the rendered chart's PrometheusRule, `promtool test rules` over
# tests/promtool/, the dashboard's queries). It is taken from Debian's `prometheus` package:
# `apt-get download` into a temp dir, `dpkg -x`, copy usr/bin/promtool. The package is NOT
# installed (no service, no user, nothing outside .tools/). Seconds, not a Go build.
# PROMTOOL_DEB_VERSION pins the package version (apt-cache policy prometheus); replaced when it changes.
set -euo pipefail
cd "$(dirname "$0")/../.."
PROMTOOL_DEB_VERSION=${PROMTOOL_DEB_VERSION:-2.42.0+ds-5+deb12u1}
stamp="deb:$PROMTOOL_DEB_VERSION"
bin=.tools/bin/promtool
if [ -x "$bin" ] && [ "$(cat "$bin.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "promtool: $bin ($stamp)"
  exit 0
fi
command -v apt-get >/dev/null && command -v dpkg >/dev/null ||
  { echo "promtool tools: apt-get and dpkg are required (Debian/Ubuntu)" >&2; exit 1; }
mkdir -p .tools/bin
tmp=$(mktemp -d)
chmod 0755 "$tmp" # apt-get downloads as _apt
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
echo "promtool tools: apt-get download prometheus=$PROMTOOL_DEB_VERSION (not installed; promtool only)"
if ! (cd "$tmp" && apt-get download "prometheus=$PROMTOOL_DEB_VERSION" >/dev/null); then
  echo "promtool tools: download failed; run 'apt-get update' or set PROMTOOL_DEB_VERSION" \
    "(apt-cache policy prometheus)" >&2
  exit 1
fi
dpkg -x "$tmp"/prometheus_*.deb "$tmp/x"
install -m 0755 "$tmp/x/usr/bin/promtool" "$bin.new"
mv -f "$bin.new" "$bin"
echo "$stamp" >"$bin.stamp"
"$bin" --version 2>&1 | head -1
echo "promtool tools: installed in $((SECONDS - start))s"
