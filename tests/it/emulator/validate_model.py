"""Holds the responses recorded in the FILEs given (JSON lines written by
`connect-gr emulator --record-responses FILE`; the test passes its own) against botocore's
Connect service model:
no member the model lacks, JSON types, enum values, list bounds (page sizes), string lengths,
epoch-second timestamps, and only the error types each operation declares."""
import glob, gzip, json, os, sys

import botocore

base = os.path.join(os.path.dirname(botocore.__file__), "data", "connect", "2017-08-08")
gz = os.path.join(base, "service-2.json.gz")
model = json.load(gzip.open(gz)) if os.path.exists(gz) else json.load(open(os.path.join(base, "service-2.json")))
S, O = model["shapes"], model["operations"]
# Quotas apply to every operation: AWS answers ThrottlingException even where the model omits it.
COMMON = {"ThrottlingException"}
errors, checked = [], 0


def check(name, v, path):
    s = S[name]
    t = s["type"]
    if t == "structure":
        if not isinstance(v, dict):
            return errors.append(f"{path}: expected object")
        for k, x in v.items():
            if k not in s["members"]:
                errors.append(f"{path}.{k}: member not in model shape {name}")
            else:
                check(s["members"][k]["shape"], x, f"{path}.{k}")
    elif t == "list":
        if not isinstance(v, list):
            return errors.append(f"{path}: expected list")
        if "max" in s and len(v) > s["max"]:
            errors.append(f"{path}: {len(v)} items > max {s['max']}")
        if "min" in s and len(v) < s["min"]:
            errors.append(f"{path}: {len(v)} items < min {s['min']}")
        for i, x in enumerate(v):
            check(s["member"]["shape"], x, f"{path}[{i}]")
    elif t == "map":
        if not isinstance(v, dict):
            return errors.append(f"{path}: expected map")
        for k, x in v.items():
            check(s["key"]["shape"], k, f"{path}{{key}}")
            check(s["value"]["shape"], x, f"{path}[{k}]")
    elif t == "string":
        if not isinstance(v, str):
            return errors.append(f"{path}: expected string, got {type(v).__name__}")
        if "enum" in s and v not in s["enum"]:
            errors.append(f"{path}: {v!r} not in enum {name}")
        if "max" in s and len(v) > s["max"]:
            errors.append(f"{path}: longer than {s['max']}")
        if "min" in s and len(v) < s["min"]:
            errors.append(f"{path}: shorter than {s['min']}")
    elif t in ("integer", "long"):
        if not isinstance(v, int) or isinstance(v, bool):
            return errors.append(f"{path}: expected integer")
        if "max" in s and v > s["max"] or "min" in s and v < s["min"]:
            errors.append(f"{path}: {v} out of range")
    elif t == "boolean":
        if not isinstance(v, bool):
            errors.append(f"{path}: expected boolean")
    elif t == "timestamp":
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            errors.append(f"{path}: timestamp must be epoch seconds (number), got {v!r}")
    elif t in ("double", "float"):
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            errors.append(f"{path}: expected number")


files = sys.argv[1:]
for f in files:
    for line in open(f):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        op = r["operation"]
        if op == "Unknown" or r.get("injected"):
            continue  # no operation, or an error the test injected on purpose
        if op not in O:
            errors.append(f"{op}: not an operation of the model")
            continue
        checked += 1
        body = r["body"]
        if r["status"] == 200:
            out = O[op].get("output")
            if out:
                check(out["shape"], body, op)
            elif body not in ({}, None):
                errors.append(f"{op}: output must be empty")
        else:
            et = r["errorType"]
            declared = {e["shape"] for e in O[op].get("errors", [])}
            if et not in declared and et not in COMMON:
                errors.append(f"{op}: error {et} is not declared by the operation ({sorted(declared)})")
            elif et in S:
                b = {k: v for k, v in body.items() if k != "__type"}
                check(et, b, f"{op}!{et}")
            if S.get(et, {}).get("error", {}).get("httpStatusCode") not in (None, r["status"]):
                errors.append(f"{op}: {et} with status {r['status']}, model says {S[et]['error']['httpStatusCode']}")

for e in errors[:50]:
    print("MODEL MISMATCH:", e)
print(f"checked {checked} responses from {len(files)} files, {len(errors)} mismatches")
sys.exit(1 if errors or checked == 0 else 0)
