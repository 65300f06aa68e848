#!/usr/bin/env bash
# The container image: the release binary on an empty root filesystem with only what it needs,
# assembled from Debian packages the way distroless images are (no shell, no package manager):
#   /usr/local/bin/connect-gr                  the release binary (symbols stripped)
#   /lib/x86_64-linux-gnu/, /lib64/            the shared libraries it links (readelf NEEDED, from
#                                              Debian's libc6 and libgcc-s1), and the loader
#   /etc/ssl/certs/ca-certificates.crt         Mozilla's CA bundle from Debian's ca-certificates
#   /etc/passwd, /etc/group, /etc/nsswitch.conf  root and nonroot (65532), files-then-DNS lookups
#   /home/nonroot (65532, 0700), /tmp (1777)   nothing needs to write: runs with a read-only root
#   /usr/share/doc/<pkg>/copyright, /var/lib/dpkg/status.d/<pkg>  licences; package versions for
#                                              image scanners (the distroless convention)
#
#   scripts/image.sh                  (make image) cargo build --release, then the OCI image
#                                     layout $TARGET/image/oci tagged
#                                     ghcr.io/connect-gr/connect-gr:<Cargo.toml version>, the same
#                                     as an archive ($TARGET/image/connect-gr-<version>.oci.tar, for
#                                     `podman load`, `docker load`, `skopeo copy oci-archive:...`)
#                                     and $TARGET/image/image.json (ref, digest, sizes).
#                                     Skips the packaging when its inputs (binary, this script,
#                                     packages, SOURCE_DATE_EPOCH) are unchanged.
#   scripts/image.sh rootfs BIN DIR   only the root filesystem, into DIR (the Dockerfile uses this)
#   scripts/image.sh sbom [OUT]       only the CycloneDX SBOM from Cargo.lock (scripts/sbom.py);
#                                     the build writes it to $TARGET/image/sbom.cdx.json, next to
#                                     the archive
#
# TARGET is CARGO_TARGET_DIR or ./target. Needs: cargo, apt-get (download only), dpkg-deb,
# readelf/strip (binutils), GNU tar, umoci (Debian; installed here when missing and root),
# python3. The layer is reproducible: sorted entries, fixed owners, mtime SOURCE_DATE_EPOCH (the
# last commit's time by default); the same inputs give the same image digest.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VERSION=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)
REPO=${CONNECT_GR_IMAGE_REPO:-ghcr.io/connect-gr/connect-gr}
REF="$REPO:$VERSION"
PACKAGES=(libc6 libgcc-s1 ca-certificates)
UID_NONROOT=65532

log() { echo "image: $*" >&2; }
die() { echo "image: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 is required ($2)"; }

# The .deb files of PACKAGES in $1 (apt-get download, cached: one file per package), then of
# the gcc-N-base package that libgcc-s1 depends on (it carries libgcc-s1's copyright file).
fetch_debs() {
  fetch_debs_of "$1" "${PACKAGES[@]}"
  local base
  base=$(dpkg-deb -f "$(compgen -G "$1/libgcc-s1_*.deb" | sort | tail -n1)" Depends |
    grep -o 'gcc-[0-9]*-base' | head -n1)
  [ -n "$base" ] || die "libgcc-s1 depends on no gcc-N-base package"
  case " ${PACKAGES[*]} " in *" $base "*) ;; *) PACKAGES+=("$base") ;; esac
  fetch_debs_of "$1" "$base"
}

fetch_debs_of() {
  local dir=$1 missing=()
  shift
  mkdir -p "$dir"
  for p in "$@"; do
    compgen -G "$dir/${p}_*.deb" >/dev/null || missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] && return 0
  need apt-get "Debian's apt"
  log "downloading ${missing[*]} (apt-get download)"
  if ! (cd "$dir" && apt-get download -qq "${missing[@]}" 2>/dev/null); then
    local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    (cd "$dir" && apt-get download -qq "${missing[@]}")
  fi
}

# Shared libraries an ELF file needs (NEEDED entries).
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]/\1/p'; }

# assemble_rootfs BIN DEBDIR OUT
assemble_rootfs() {
  local bin=$1 debs=$2 out=$3 work
  need readelf "binutils"
  need dpkg-deb "dpkg"
  work=$(mktemp -d)
  rm -rf "$out"
  mkdir -p "$out"/{etc/ssl/certs,lib/x86_64-linux-gnu,lib64,usr/local/bin,var/lib/dpkg/status.d,home/nonroot,tmp}
  for p in "${PACKAGES[@]}"; do
    local deb
    deb=$(compgen -G "$debs/${p}_*.deb" | sort | tail -n1)
    dpkg-deb -x "$deb" "$work/$p"
    dpkg-deb -f "$deb" Package Version Architecture Source Maintainer Homepage \
      >"$out/var/lib/dpkg/status.d/$p"
  done

  # Each package's copyright file (libgcc-s1's doc directory links to gcc-N-base's).
  for p in "${PACKAGES[@]}"; do
    local doc=$p
    if [ -L "$work/$p/usr/share/doc/$p" ]; then doc=$(readlink "$work/$p/usr/share/doc/$p"); fi
    local copyright
    copyright=$(compgen -G "$work/*/usr/share/doc/$doc/copyright" | head -n1) ||
      die "no copyright file for $p"
    mkdir -p "$out/usr/share/doc/$p"
    cp "$copyright" "$out/usr/share/doc/$p/copyright"
  done

  install -m 0755 "$bin" "$out/usr/local/bin/connect-gr"
  if command -v strip >/dev/null; then strip --strip-all "$out/usr/local/bin/connect-gr"; fi

  # The libraries, transitively, from the packages (never from the build machine).
  local queue seen=" " lib found
  queue=$(needed "$bin")
  while [ -n "$queue" ]; do
    lib=${queue%%$'\n'*}
    [ "$queue" = "$lib" ] && queue= || queue=${queue#*$'\n'}
    case "$seen" in *" $lib "*) continue ;; esac
    seen="$seen$lib "
    found=$(find "$work"/*/lib/x86_64-linux-gnu "$work"/*/usr/lib/x86_64-linux-gnu -maxdepth 1 \
      -name "$lib" 2>/dev/null | head -n1)
    [ -n "$found" ] || die "$bin needs $lib, which none of ${PACKAGES[*]} provides (add its package)"
    cp -L "$found" "$out/lib/x86_64-linux-gnu/$lib"
    queue=$(printf '%s\n%s' "$queue" "$(needed "$found")" | sed '/^$/d')
  done
  local interp
  interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
  [ "$interp" = /lib64/ld-linux-x86-64.so.2 ] || die "unexpected program interpreter $interp"
  cp -L "$work/libc6/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$out/lib/x86_64-linux-gnu/"
  ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$out/lib64/ld-linux-x86-64.so.2"

  # update-ca-certificates' bundle: every certificate Debian ships, in name order.
  find "$work/ca-certificates/usr/share/ca-certificates/mozilla" -name '*.crt' | LC_ALL=C sort |
    xargs cat >"$out/etc/ssl/certs/ca-certificates.crt"
  grep -c 'BEGIN CERTIFICATE' "$out/etc/ssl/certs/ca-certificates.crt" | grep -qv '^0$' ||
    die "empty CA bundle"

  cat >"$out/etc/passwd" <<EOF
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:$UID_NONROOT:$UID_NONROOT:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$out/etc/group" <<EOF
root:x:0:
nonroot:x:$UID_NONROOT:
EOF
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$out/etc/nsswitch.conf"
  if [ -r /usr/lib/os-release ]; then cp /usr/lib/os-release "$out/etc/os-release"; fi
  chmod 0755 "$out" "$out"/etc "$out"/lib "$out"/usr
  chmod 0700 "$out/home/nonroot"
  chmod 1777 "$out/tmp"
  find "$out/etc" "$out/usr/share" "$out/var" -type f -exec chmod 0644 {} +
  if [ "$(id -u)" = 0 ]; then chown "$UID_NONROOT:$UID_NONROOT" "$out/home/nonroot"; fi
  rm -rf "$work"
}

# layer_tar ROOTFS OUT.tar EPOCH: a reproducible tar of ROOTFS (root owns everything but
# /home/nonroot).
layer_tar() {
  local rootfs=$1 out=$2 epoch=$3 list
  list=$(mktemp)
  (cd "$rootfs" && find . -mindepth 1 ! -path './home/nonroot' | sed 's|^\./||' | LC_ALL=C sort) >"$list"
  local opts=(--format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime
    --mtime="@$epoch" --numeric-owner --no-recursion)
  tar -C "$rootfs" "${opts[@]}" --owner=0 --group=0 -cf "$out" -T "$list"
  tar -C "$rootfs" "${opts[@]}" --owner="$UID_NONROOT" --group="$UID_NONROOT" -rf "$out" home/nonroot
  rm -f "$list"
}

ensure_umoci() {
  command -v umoci >/dev/null && return 0
  [ "$(id -u)" = 0 ] || die "umoci is required: apt-get install umoci"
  log "installing umoci (apt)"
  apt-get install -y -qq umoci >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq umoci >/dev/null; }
}

build() {
  need cargo "Rust"
  need python3 "python3"
  local bin=${CONNECT_GR_IMAGE_BINARY:-}
  if [ -z "$bin" ]; then
    log "cargo build --release --bin connect-gr (cold: ~13 min on 2 cores: size-optimised, fat LTO)"
    cargo build --release --locked --bin connect-gr
    bin=$TARGET/release/connect-gr
  fi
  [ -x "$bin" ] || die "no binary at $bin"
  local debs=$ROOT/.tools/image/debs out=$TARGET/image
  fetch_debs "$debs"
  local epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
  local stamp
  stamp=$( (sha256sum "$bin" "$0"; ls "$debs"; echo "$REF $epoch") | sha256sum | cut -c1-32)
  if [ -f "$out/image.json" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ] &&
    [ -f "$out/oci/index.json" ]; then
    log "up to date: $REF ($out/oci)"
    python3 "$ROOT/scripts/sbom.py" "$out/sbom.cdx.json"
    cat "$out/image.json"
    return 0
  fi
  ensure_umoci
  local created
  created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
  rm -rf "$out"
  mkdir -p "$out"
  assemble_rootfs "$bin" "$debs" "$out/rootfs"
  layer_tar "$out/rootfs" "$out/layer.tar" "$epoch"

  local img="$out/oci:$REF"
  umoci init --layout "$out/oci"
  umoci new --image "$img"
  umoci raw add-layer --image "$img" --history.created "$created" \
    --history.created_by "scripts/image.sh (connect-gr $VERSION, ${PACKAGES[*]})" "$out/layer.tar"
  local revision
  revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  umoci config --no-history --image "$img" --created "$created" --author "connect-gr" \
    --config.user "$UID_NONROOT:$UID_NONROOT" \
    --config.entrypoint /usr/local/bin/connect-gr --config.cmd controller \
    --config.env PATH=/usr/local/bin \
    --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --config.exposedports 8080/tcp \
    --config.label org.opencontainers.image.title=connect-gr \
    --config.label org.opencontainers.image.version="$VERSION" \
    --config.label org.opencontainers.image.licenses=Apache-2.0 \
    --config.label org.opencontainers.image.source=https://github.com/connect-gr/connect-gr \
    --config.label org.opencontainers.image.revision="$revision" \
    --config.label org.opencontainers.image.created="$created"
  umoci gc --layout "$out/oci"

  # Name the image for `docker load` / containerd too; record digest and sizes.
  python3 - "$out" "$REF" "$VERSION" <<'PY'
import json, os, sys
out, ref, version = sys.argv[1:]
layout = os.path.join(out, "oci")
index_path = os.path.join(layout, "index.json")
index = json.load(open(index_path))
[m] = [m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref]
m["annotations"]["io.containerd.image.name"] = ref
json.dump(index, open(index_path, "w"), separators=(",", ":"))
blob = lambda d: os.path.join(layout, "blobs", *d.split(":"))
manifest = json.load(open(blob(m["digest"])))
compressed = manifest["config"]["size"] + sum(l["size"] for l in manifest["layers"])
rootfs = os.path.join(out, "rootfs")
uncompressed = sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(rootfs) for f in fs)
binary = os.path.getsize(os.path.join(rootfs, "usr/local/bin/connect-gr"))
info = {"ref": ref, "version": version, "digest": m["digest"], "compressed_bytes": compressed,
        "rootfs_bytes": uncompressed, "binary_bytes": binary, "layout": layout,
        "archive": os.path.join(out, f"connect-gr-{version}.oci.tar")}
json.dump(info, open(os.path.join(out, "image.json"), "w"), indent=2)
print(json.dumps(info, indent=2))
PY
  tar -C "$out/oci" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    -cf "$out/connect-gr-$VERSION.oci.tar" .
  rm -f "$out/layer.tar"
  python3 "$ROOT/scripts/sbom.py" "$out/sbom.cdx.json"
  echo "$stamp" >"$out/stamp"
  log "built $REF: $out/oci ($(du -sh "$out/connect-gr-$VERSION.oci.tar" | cut -f1) archive)"
}

case "${1:-build}" in
  build) build ;;
  rootfs)
    [ $# = 3 ] || die "usage: scripts/image.sh rootfs BIN DIR"
    debs=$(mktemp -d)
    fetch_debs "$debs"
    assemble_rootfs "$2" "$debs" "$3"
    rm -rf "$debs"
    ;;
  sbom) python3 "$ROOT/scripts/sbom.py" "${2:-$TARGET/image/sbom.cdx.json}" ;;
  *) die "usage: scripts/image.sh [build | rootfs BIN DIR | sbom [OUT]]" ;;
esac
