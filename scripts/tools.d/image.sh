#!/usr/bin/env bash
# What `make image` and the image tests need beyond cargo: umoci (writes and unpacks the OCI image
# layout) and runc (runs the unpacked image in the tests), from Debian, when not on PATH.
set -euo pipefail
missing=()
command -v umoci >/dev/null || missing+=(umoci)
command -v runc >/dev/null || missing+=(runc)
command -v readelf >/dev/null || missing+=(binutils)
if [ ${#missing[@]} = 0 ]; then
  echo "image tools: $(umoci --version), $(runc --version | sed -n 1p)"
  exit 0
fi
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "image tools: installing ${missing[*]} (apt)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
umoci --version
runc --version | sed -n 1p
