#!/usr/bin/env bash
# Peak memory of the real controller process (kube watchers, HTTP server, AWS SDK) converging and
# then holding 20 objects with 5,000 agents: the test bed's API server, the emulator (quotas x20)
# and the release binary. Writes target/bench/controller_rss.json. Takes about 5 minutes.
#   scripts/controller-rss.sh [STEADY_SECONDS]      (CONNECT_GR_BIN=path: an already built binary)
set -euo pipefail
cd "$(dirname "$0")/.."
steady=${1:-120}
export PATH=$PWD/.tools/bin:$PWD/.tools/venv/bin:$PATH
# CONNECT_GR_BIN: measure that binary instead of building target/release/connect-gr.
source scripts/controller-bin.sh
bash scripts/testbed.sh up >/dev/null
export KUBECONFIG=$PWD/.tools/testbed/kubeconfig
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
ns=rss-$$
kubectl create namespace "$ns" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$bin emulator --listen "127.0.0.1:$port" --users 5000 --quota-scale 20 --replication-seconds 1 >/dev/null 2>&1 &
emu=$!
sleep 1
AWS_ENDPOINT_URL_CONNECT=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x \
AWS_REGION=us-west-2 CONNECT_GR_BENCH_QUOTA_SCALE=20 CONNECT_GR_RESYNC_INTERVAL=15s \
  $bin controller --namespace "$ns" --metrics-addr 127.0.0.1:0 2>target/controller-rss.log &
ctl=$!
trap 'kill $ctl $emu 2>/dev/null || true; kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true' EXIT
for f in instance-replica tdg-default traffic-distribution; do
  kubectl apply -n "$ns" -f "deploy/examples/$f.yaml" >/dev/null
done
python3 - <<'PY' | kubectl apply -n "$ns" -f - >/dev/null
per = 5000 // 17 + 1
docs = []
for m in range(17):
    lo, hi = m * per + 1, min((m + 1) * per, 5000)
    users = "\n".join(f"    - agent{i:05}" for i in range(lo, hi + 1))
    docs.append(f"apiVersion: connectgr.io/v1alpha1\nkind: AgentMembership\nmetadata:\n  name: agents-{m:02}\nspec:\n  groupRef:\n    name: support-default\n  users:\n{users}\n")
print("---\n".join(docs))
PY
start=$(date +%s)
kubectl wait -n "$ns" --for=condition=Ready agm --all --timeout=900s >/dev/null
converged=$(( $(date +%s) - start ))
sleep "$steady"
kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$ctl/status"; }
mkdir -p target/bench
# Where the resident bytes go (steady state): the binary's own pages (code, read-only data), the
# heap (anonymous mappings: malloc arenas), shared libraries, stacks.
cp "/proc/$ctl/smaps" target/controller-rss.smaps
parts=$(python3 scripts/rss_breakdown.py target/controller-rss.smaps "$(readlink -f $bin)")
python3 - "$converged" "$steady" "$(kib VmHWM)" "$(kib VmRSS)" "$parts" <<'PY'
import json, sys
conv, steady, hwm, rss = (int(x) for x in sys.argv[1:5])
parts = json.loads(sys.argv[5])
out = {"objects": 20, "agents": 5000, "quota_scale": 20, "converged_s": conv,
       "steady_s": steady, "peak_rss_mib": round(hwm / 1024, 1), "rss_mib": round(rss / 1024, 1),
       "steady_breakdown": parts,
       "note": "the controller binary (release) against the test bed's kube-apiserver and the emulator; "
               "peak = VmHWM, steady = VmRSS after steady_s, breakdown from /proc/PID/smaps at steady state"}
open("target/bench/controller_rss.json", "w").write(json.dumps(out, indent=2) + "\n")
print(json.dumps(out, indent=2))
PY
