#!/usr/bin/env bash
# A real Kubernetes API server for hands-on work: etcd + apiextensions-apiserver (or kube-apiserver)
# on free loopback ports, a generated CA and an O=system:masters client certificate, a kubeconfig,
# and the project's CRDs applied.
#
#   scripts/testbed.sh up     start in the background; prints the kubeconfig path
#   scripts/testbed.sh down   stop everything started by `up`
#   scripts/testbed.sh status
#
# Binaries come from `make tools` (scripts/tools.d/testbed.sh). State lives in .tools/testbed/;
# etcd's data lives on tmpfs (/dev/shm) when available.
# CONNECT_GR_APISERVER=apiextensions selects the CRD-only apiextensions-apiserver; default: kube
# (kube-apiserver: also Events, Leases, namespaces, RBAC).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TB=${CONNECT_GR_TESTBED_DIR:-$ROOT/.tools/testbed}
BIN=${CONNECT_GR_TESTBED_BIN:-$ROOT/.tools/bin}
export PATH="$BIN:$ROOT/.tools/venv/bin:$PATH"

log() { echo "testbed: $*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

stop_pid() { # pidfile
  local f=$1
  [ -f "$f" ] || return 0
  local pid
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

down() {
  stop_pid "$TB/apiserver.pid"
  stop_pid "$TB/etcd.pid"
  if [ -f "$TB/etcd-data-dir" ]; then
    rm -rf "$(cat "$TB/etcd-data-dir")"
    rm -f "$TB/etcd-data-dir"
  fi
  log "stopped"
}

gen_certs() {
  local d=$TB/pki
  mkdir -p "$d"
  [ -f "$d/client.crt" ] && return 0
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=connect-gr-testbed-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  # server certificate for 127.0.0.1 / localhost
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 3650 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
  # client certificate in system:masters
  openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=connect-gr-admin" \
    -keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >"$d/client.ext"
  openssl x509 -req -in "$d/client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 3650 -extfile "$d/client.ext" -out "$d/client.crt" 2>/dev/null
  rm -f "$d"/*.csr "$d"/*.ext
}

up() {
  if [ -f "$TB/apiserver.pid" ] && kill -0 "$(cat "$TB/apiserver.pid")" 2>/dev/null; then
    log "already running"
    echo "$TB/kubeconfig"
    return 0
  fi
  down 2>/dev/null || true
  mkdir -p "$TB"
  command -v etcd >/dev/null || { log "etcd not found: run make tools"; exit 1; }
  local flavour=${CONNECT_GR_APISERVER:-kube}
  local server
  case $flavour in
    apiextensions) server=$BIN/connect-gr-testbed-apiserver ;;
    kube) server=$BIN/kube-apiserver ;;
    *) log "CONNECT_GR_APISERVER must be apiextensions or kube"; exit 1 ;;
  esac
  [ -x "$server" ] || { log "$server not found: run make tools"; exit 1; }
  gen_certs

  local shm=/dev/shm
  [ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
  local data
  data=$(mktemp -d "$shm/connect-gr-etcd.XXXXXX")
  echo "$data" >"$TB/etcd-data-dir"
  local ep pp ap
  ep=$(free_port); pp=$(free_port); ap=$(free_port)
  nohup etcd --name testbed --data-dir "$data" \
    --listen-client-urls "http://127.0.0.1:$ep" --advertise-client-urls "http://127.0.0.1:$ep" \
    --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
    --initial-cluster "testbed=http://127.0.0.1:$pp" --log-level warn \
    >"$TB/etcd.log" 2>&1 </dev/null &
  echo $! >"$TB/etcd.pid"

  # A kubeconfig for the server's own delegated authn/authz lookups: a dead loopback port.
  cat >"$TB/fake-kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "http://127.0.0.1:1"}}]
contexts: [{name: fake, context: {cluster: fake, user: fake}}]
users: [{name: fake, user: {}}]
current-context: fake
EOF
  local pki=$TB/pki
  local args=(--etcd-servers "http://127.0.0.1:$ep" --secure-port "$ap" --bind-address 127.0.0.1
    --cert-dir "$TB/certs" --tls-cert-file "$pki/server.crt" --tls-private-key-file "$pki/server.key"
    --client-ca-file "$pki/ca.crt" --enable-priority-and-fairness=false)
  if [ "$flavour" = apiextensions ]; then
    args+=(--etcd-prefix "/connect-gr-testbed"
      --authentication-skip-lookup --authentication-kubeconfig "$TB/fake-kubeconfig"
      --authorization-kubeconfig "$TB/fake-kubeconfig" --kubeconfig "$TB/fake-kubeconfig"
      --disable-admission-plugins "NamespaceLifecycle,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,MutatingAdmissionPolicy")
  else
    [ -f "$pki/sa.key" ] || openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
    openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
    args+=(--etcd-prefix "/connect-gr-testbed" --service-account-issuer https://kubernetes.default.svc
      --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key"
      --authorization-mode RBAC --service-cluster-ip-range 10.0.0.0/24
      --disable-admission-plugins "NamespaceLifecycle,ServiceAccount,MutatingAdmissionWebhook,ValidatingAdmissionWebhook")
  fi
  nohup "$server" "${args[@]}" >"$TB/apiserver.log" 2>&1 </dev/null &
  echo $! >"$TB/apiserver.pid"

  cat >"$TB/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster:
    server: https://127.0.0.1:$ap
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(base64 -w0 "$pki/client.crt")
    client-key-data: $(base64 -w0 "$pki/client.key")
contexts:
- name: testbed
  context: {cluster: testbed, user: admin, namespace: default}
current-context: testbed
EOF
  local start=$SECONDS
  until curl -sf --cacert "$pki/ca.crt" --cert "$pki/client.crt" --key "$pki/client.key" \
      "https://127.0.0.1:$ap/readyz?exclude=informer-sync" >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$TB/apiserver.pid")" 2>/dev/null; then
      log "API server exited; last lines of $TB/apiserver.log:"; tail -20 "$TB/apiserver.log" >&2; exit 1
    fi
    if [ $((SECONDS - start)) -gt 90 ]; then log "API server not ready after 90s"; exit 1; fi
    sleep 0.3
  done
  log "$flavour API server ready on https://127.0.0.1:$ap after $((SECONDS - start))s (etcd :$ep)"
  if [ -d crds ]; then
    kubectl --kubeconfig "$TB/kubeconfig" apply --server-side --field-manager connect-gr -f crds/ >&2
    kubectl --kubeconfig "$TB/kubeconfig" wait --for condition=Established --timeout 60s \
      -f crds/ >&2
  fi
  echo "$TB/kubeconfig"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status)
    for p in etcd apiserver; do
      if [ -f "$TB/$p.pid" ] && kill -0 "$(cat "$TB/$p.pid")" 2>/dev/null; then echo "$p: running"; else echo "$p: stopped"; fi
    done ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
