#!/usr/bin/env bash
# AWS CLI (+ botocore, whose Connect service model the emulator tests validate against).
# Uses an `aws` already on PATH (with botocore importable); otherwise pip-installs into .tools/venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -x .tools/venv/bin/aws ] && .tools/venv/bin/python -c 'import botocore' 2>/dev/null; then
  echo "awscli: .tools/venv/bin/aws ($(.tools/venv/bin/aws --version 2>&1))"
  exit 0
fi
if command -v aws >/dev/null 2>&1 && python3 -c 'import botocore' 2>/dev/null; then
  echo "awscli: $(command -v aws) ($(aws --version 2>&1))"
  exit 0
fi
[ -x .tools/venv/bin/python ] || python3 -m venv .tools/venv
.tools/venv/bin/pip install --quiet --upgrade awscli
.tools/venv/bin/aws --version
