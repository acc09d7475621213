#!/usr/bin/env bash
# Installs the Debian packages the tests drive (a real dockerd, the CNCF registry, skopeo,
# podman, PostgreSQL, qemu for the arm64 binaries, binutils to strip the embedded Node)
# without starting any system service.
#   --bench   also the Go credential helpers `npm run bench` compares against
# Then the Debian roots of the engine matrix (engine-roots.sh; cached, so a warm machine pays
# nothing). Needs root; does nothing when everything is already there.
set -euo pipefail
here=$(dirname "$0")
mode=${1:-}
# The matrix's roots need debootstrap, so they come after the host's packages.
engine_roots() {
  [ "$mode" = "--bench" ] && return 0
  [ "$(id -u)" -eq 0 ] || return 0
  bash "$here/engine-roots.sh"
}
packages=(docker.io docker-registry apache2-utils skopeo podman openssl postgresql curl iproute2
  # Reads images as the dstack server does: python-dxf runs over requests (test/fixtures/dstack-image-read.py).
  python3-requests
  # Builds the engine matrix's sid and trixie roots (engine-roots.sh).
  debootstrap
  # Sees every file `configure` writes (test/binary/host/commands/configure-touches.test.ts).
  strace
  # compose 1.29 (docker-py): what it prints when the helper fails is tested.
  docker-compose
  # Runs the cross-built arm64 binaries in the tests (user-mode emulation with arm64 libraries).
  qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross libatomic1-arm64-cross
  # Strips the Node embedded in the arm64 binaries (scripts/build-binary.mjs; `strip` itself is in binutils).
  binutils binutils-aarch64-linux-gnu
  # systemd-analyze verify and systemd-socket-activate check the mirror endpoint's units (no systemd runs).
  systemd
  # Runs the built helper with its clock a day off the service's (test/e2e/host-clock-skew.test.ts).
  faketime)
if [ "${1:-}" = "--bench" ]; then
  packages=(golang-docker-credential-helpers amazon-ecr-credential-helper)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  engine_roots
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-packages: missing ${missing[*]}; run this script as root (it uses apt-get)" >&2
  # Outside CI the tests that need them say so themselves; under CI nothing may be missing.
  [ "${CI:-}" = "true" ] && exit 1
  exit 0
fi
# Packages must not start their system services on this host.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/install-packages.XXXXXX.log)
# The package mirror is the one thing here that can fail for a moment: retry, wait for a
# dpkg lock held by something else, and show apt's own words when it still fails.
if ! { apt-get -o Acquire::Retries=3 update -qq &&
  apt-get -o Acquire::Retries=3 -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 50 "$log" >&2
  echo "install-packages: apt-get failed installing ${missing[*]} (full log: $log)" >&2
  exit 1
fi
rm -f "$log"
echo "install-packages: installed ${missing[*]}" >&2
engine_roots
