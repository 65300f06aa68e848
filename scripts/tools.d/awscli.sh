#!/usr/bin/env bash
# AWS CLI (+ botocore, whose Connect service model the emulator tests validate against).
# botocore >= 1.44.5 is required: the first whose Connect model has the 2026 operations
# (Get/UpdateCrossRegionRouting, ListReplicationFindings). Uses an `aws` already on PATH when
# its botocore is new enough; otherwise pip-installs (or upgrades) into .tools/venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
MIN_BOTOCORE=1.44.5
new_enough() { # python
  "$1" - "$MIN_BOTOCORE" <<'PY' 2>/dev/null
import sys, botocore
have = tuple(int(x) for x in botocore.__version__.split(".")[:3])
need = tuple(int(x) for x in sys.argv[1].split("."))
sys.exit(0 if have >= need else 1)
PY
}
if [ -x .tools/venv/bin/aws ] && new_enough .tools/venv/bin/python; then
  echo "awscli: .tools/venv/bin/aws (botocore $(.tools/venv/bin/python -c "import botocore; print(botocore.__version__)"))"
  exit 0
fi
if command -v aws >/dev/null 2>&1 && new_enough python3; then
  echo "awscli: $(command -v aws) ($(aws --version 2>&1))"
  exit 0
fi
[ -x .tools/venv/bin/python ] || python3 -m venv .tools/venv
.tools/venv/bin/pip install --quiet --upgrade awscli "botocore>=$MIN_BOTOCORE"
new_enough .tools/venv/bin/python || { echo "awscli: botocore < $MIN_BOTOCORE after upgrade" >&2; exit 1; }
.tools/venv/bin/aws --version
