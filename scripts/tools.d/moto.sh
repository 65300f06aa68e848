#!/usr/bin/env bash
# Installs (once) moto[server] (DynamoDB wire peer for the denylist tests) and cargo-lambda
# (local Lambda runtime for the handler smoke test) from PyPI into .tools/venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.tools/venv
if [ -x "$venv/bin/moto_server" ] && [ -x "$venv/bin/cargo-lambda" ]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5,<6' 'cargo-lambda>=1.8,<2'
"$venv/bin/moto_server" --help >/dev/null
"$venv/bin/cargo-lambda" lambda --version
