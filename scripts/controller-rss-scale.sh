#!/usr/bin/env bash
# Peak memory of the real controller process at the `scale` bench's layout: AGENTS agents already
# in their declared state in 10 groups (the emulator's state file), the 31 objects (1
# InstanceReplica, 10 groups, 10 Exact memberships, 10 distributions) applied to the test bed's
# kube-apiserver, the release binary converging and then holding them at resync 60 s (compressed
# by the quota scale). The state file and the objects come from the scale bench itself. Writes
# target/bench/controller_rss_scale.json.
#   scripts/controller-rss-scale.sh [AGENTS] [STEADY_SECONDS]
#   (CONNECT_GR_BIN=path: an already built binary; CONNECT_GR_BENCH_QUOTA_SCALE: default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
agents=${1:-50000}
steady=${2:-60}
scale=${CONNECT_GR_BENCH_QUOTA_SCALE:-20}
export PATH=$PWD/.tools/bin:$PWD/.tools/venv/bin:$PATH
# CONNECT_GR_BIN: measure that binary instead of building target/release/connect-gr.
source scripts/controller-bin.sh
bench=$(cargo bench --bench scale --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
exes = [j["executable"] for j in map(json.loads, sys.stdin)
        if j.get("reason") == "compiler-artifact" and j.get("executable") and j["target"]["name"] == "scale"]
print(exes[-1])')
work=$(mktemp -d)
CONNECT_GR_BENCH_SCALE_AGENTS=$agents CONNECT_GR_BENCH_SCALE_WRITE_STATE=$work/state.yaml \
  CONNECT_GR_BENCH_SCALE_WRITE_MANIFESTS=$work/objects.yaml "$bench"
bash scripts/testbed.sh up >/dev/null
export KUBECONFIG=$PWD/.tools/testbed/kubeconfig
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
ns=rss-scale-$$
kubectl create namespace "$ns" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$bin emulator --listen "127.0.0.1:$port" --quotas on --state "$work/state.yaml" --max-users 100000 \
  --quota-scale "$scale" --replication-seconds 0.5 >/dev/null 2>&1 &
emu=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/_emulator/calls?since=0" >/dev/null 2>&1 && break
  sleep 0.2
done
resync_ms=$(python3 -c "print(max(1000, round(60000 / $scale)))")
AWS_ENDPOINT_URL_CONNECT=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x \
AWS_REGION=us-west-2 CONNECT_GR_BENCH_QUOTA_SCALE=$scale CONNECT_GR_RESYNC_INTERVAL=${resync_ms}ms \
  $bin controller --namespace "$ns" --metrics-addr 127.0.0.1:0 2>target/controller-rss-scale.log &
ctl=$!
trap 'kill $ctl $emu 2>/dev/null || true; rm -rf "$work"; kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true' EXIT
start=$(date +%s)
kubectl apply -n "$ns" -f "$work/objects.yaml" >/dev/null
kubectl wait -n "$ns" --for=condition=Ready irep,tdg,tdist,agm --all --timeout=3600s >/dev/null
converged=$(( $(date +%s) - start ))
objects=$(kubectl get -n "$ns" irep,tdg,tdist,agm -o name | wc -l)
sleep "$steady"
kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$ctl/status"; }
mkdir -p target/bench
cp "/proc/$ctl/smaps" target/controller-rss-scale.smaps
parts=$(python3 scripts/rss_breakdown.py target/controller-rss-scale.smaps "$(readlink -f $bin)")
python3 - "$agents" "$objects" "$scale" "$converged" "$steady" "$(kib VmHWM)" "$(kib VmRSS)" "$parts" <<'PY'
import json, sys
agents, objects = int(sys.argv[1]), int(sys.argv[2])
scale = float(sys.argv[3])
conv, steady, hwm, rss = (int(x) for x in sys.argv[4:8])
out = {"agents": agents, "groups": 10, "objects": objects, "quota_scale": scale,
       "converged_s": conv, "ready_production_s": round(conv * scale),
       "steady_s": steady, "peak_rss_mib": round(hwm / 1024, 1), "rss_mib": round(rss / 1024, 1),
       "steady_breakdown": json.loads(sys.argv[8]),
       "note": "the controller binary (release) against the test bed's kube-apiserver and the emulator "
               "preloaded through the scale bench's state file; peak = VmHWM over the run to Ready and "
               "the steady window, steady = VmRSS after steady_s, breakdown from /proc/PID/smaps"}
open("target/bench/controller_rss_scale.json", "w").write(json.dumps(out, indent=2) + "\n")
print(json.dumps(out, indent=2))
PY
