#!/bin/sh
# Bakes docker-credential-dstack into a VM image that needs nothing by hand: the binary, its
# systemd units (enrollment at boot, the mirror endpoint's socket and service) and a helper
# config naming the service, and no instance token. At first boot the VM enrolls by its cloud
# identity (docs/enrollment.md), then configures its engines. See docs/cloud-images.md.
#
#   bake-image.sh --server URL [--cloud aws] [--binary PATH] [--ca-file PEM] [--root DIR]
#
# As a Packer shell provisioner: upload this script, scripts/install.sh and the binary, and run
# it as root on the build VM (--root /, the default). With --root DIR it bakes into a root
# directory (a debootstrap tree) by running itself there under chroot.
set -eu

usage() {
  cat <<'USAGE'
Usage: bake-image.sh --server URL [--cloud aws] [--binary PATH] [--ca-file PEM] [--root DIR]
  --server URL     the dstack-registry-auth base URL the VMs will enroll with (https://…)
  --cloud CLOUD    whose identity the VMs present at boot: aws (default), gcp or azure
  --binary PATH    the helper binary (default: dist/docker-credential-dstack-linux-<arch> next to this script)
  --ca-file PEM    a CA bundle for the service's certificate, when it is not in the system store
  --root DIR       bake into the root directory DIR instead of this machine (default /)
USAGE
}

die() {
  echo "bake-image.sh: $*" >&2
  exit 1
}

SERVER=""
CLOUD="aws"
BINARY=""
CA_FILE=""
ROOT="/"
while [ $# -gt 0 ]; do
  case "$1" in
    --server) [ $# -ge 2 ] || die "--server needs a URL"; SERVER=$2; shift 2 ;;
    --cloud) [ $# -ge 2 ] || die "--cloud needs a cloud (aws, gcp or azure)"; CLOUD=$2; shift 2 ;;
    --binary) [ $# -ge 2 ] || die "--binary needs a path"; BINARY=$2; shift 2 ;;
    --ca-file) [ $# -ge 2 ] || die "--ca-file needs a path"; CA_FILE=$2; shift 2 ;;
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -n "$SERVER" ] || die "--server URL is required: the VMs enroll with it at boot"
case "$CLOUD" in aws|gcp|azure) ;; *) die "--cloud $CLOUD: enrollment is available for aws, gcp and azure" ;; esac
[ "$(id -u)" = 0 ] || die "run as root (it installs into /usr/local and /etc)"
HERE="$(cd "$(dirname "$0")" && pwd)"
[ -f "$HERE/install.sh" ] || die "no install.sh next to this script ($HERE); upload both"
if [ -z "$BINARY" ]; then
  case "$(uname -m)" in
    x86_64|amd64) ARCH=x64 ;;
    aarch64|arm64) ARCH=arm64 ;;
    *) die "unsupported architecture $(uname -m); pass --binary PATH" ;;
  esac
  BINARY="$HERE/../dist/docker-credential-dstack-linux-$ARCH"
fi
[ -f "$BINARY" ] || die "no helper binary at $BINARY; build it (npm run build:binary) or pass --binary PATH"
[ -z "$CA_FILE" ] || [ -r "$CA_FILE" ] || die "cannot read --ca-file $CA_FILE"

# Another root: stage what is needed inside it and run there, so every path the units name is
# the path the booted image has.
if [ "$ROOT" != "/" ]; then
  [ -x "$ROOT/bin/sh" ] || die "--root $ROOT has no /bin/sh; is it a root file system?"
  STAGE="$ROOT/var/tmp/dstack-bake.$$"
  mkdir -p "$STAGE"
  trap 'rm -rf "$STAGE"' EXIT
  cp "$0" "$STAGE/bake-image.sh"
  cp "$HERE/install.sh" "$STAGE/install.sh"
  cp "$BINARY" "$STAGE/docker-credential-dstack"
  set -- --server "$SERVER" --cloud "$CLOUD" --binary "/var/tmp/dstack-bake.$$/docker-credential-dstack"
  if [ -n "$CA_FILE" ]; then cp "$CA_FILE" "$STAGE/ca.pem"; set -- "$@" --ca-file "/var/tmp/dstack-bake.$$/ca.pem"; fi
  chroot "$ROOT" /bin/sh "/var/tmp/dstack-bake.$$/bake-image.sh" "$@"
  exit 0
fi

CONFIG_DIR=/etc/docker-credential-dstack
UNITS=/etc/systemd/system
# Units written, not started: this is an image being built. configure runs at first boot.
sh "$HERE/install.sh" --server "$SERVER" --enroll "$CLOUD" --binary "$BINARY" --no-configure --no-systemctl --systemd-dir "$UNITS"

# The binary embeds Node's official runtime, which loads libatomic.so.1 and libstdc++.so.6;
# a minimal image (debootstrap's) may lack them: install them with the image's apt.
TARGET=/usr/local/bin/docker-credential-dstack
if ! "$TARGET" --version >/dev/null 2>&1; then
  missing=$(ldd "$TARGET" 2>/dev/null | awk '/not found/ { print $1 }' | tr '\n' ' ')
  packages=""
  for lib in $missing; do
    case "$lib" in
      libatomic.so.1) packages="$packages libatomic1" ;;
      libstdc++.so.6) packages="$packages libstdc++6" ;;
      libgcc_s.so.1) packages="$packages libgcc-s1" ;;
    esac
  done
  if [ -n "$packages" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing what the binary needs:$packages"
    DEBIAN_FRONTEND=noninteractive apt-get -q update >/dev/null
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends $packages >/dev/null
  fi
  "$TARGET" --version >/dev/null 2>&1 || die "the installed $TARGET does not start in this image (missing: ${missing:-unknown}); install those libraries into the image"
fi

if [ -n "$CA_FILE" ]; then
  cp "$CA_FILE" "$CONFIG_DIR/service-ca.pem"
  chmod 0644 "$CONFIG_DIR/service-ca.pem"
  printf '{\n  "server": "%s",\n  "tokenFile": "%s",\n  "caFile": "%s"\n}\n' "$SERVER" "$CONFIG_DIR/token" "$CONFIG_DIR/service-ca.pem" >"$CONFIG_DIR/config.json.bake"
  mv -f "$CONFIG_DIR/config.json.bake" "$CONFIG_DIR/config.json"
  echo "wrote: $CONFIG_DIR/config.json (with caFile)"
fi

# What `systemctl enable` would link, done by hand: no systemd runs while an image is baked.
mkdir -p "$UNITS/multi-user.target.wants" "$UNITS/sockets.target.wants"
ln -sf "$UNITS/docker-credential-dstack-enroll.service" "$UNITS/multi-user.target.wants/docker-credential-dstack-enroll.service"
ln -sf "$UNITS/docker-credential-dstack-mirror.socket" "$UNITS/sockets.target.wants/docker-credential-dstack-mirror.socket"
echo "enabled: docker-credential-dstack-enroll.service, docker-credential-dstack-mirror.socket"

# Every VM made from the image must enroll as itself: a token baked in would be one identity
# shared by all of them (the builder's), and a credential cache would outlive it.
if [ -e "$CONFIG_DIR/token" ]; then
  rm -f "$CONFIG_DIR/token"
  echo "removed: $CONFIG_DIR/token (an image carries no instance token; each VM enrolls at boot)"
fi
rm -rf /run/docker-credential-dstack
echo "baked: VMs from this image enroll with $SERVER by their $CLOUD identity at first boot"
