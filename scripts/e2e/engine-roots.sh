#!/usr/bin/env bash
# Builds the Debian roots whose newer engines the end-to-end matrix runs (docs/e2e.md, "Engine
# matrix"): `sid` (dockerd 28.x, containerd 2.x, podman 5.x, skopeo, compose v2, buildx) and
# `trixie` (dockerd 26.x, containerd 1.7). Installing them on the host would drag in a newer
# libc, so each lives in a root of its own made by debootstrap, and the tests chroot into it
# to start the engines. Roots are cached between runs on one machine; a root is rebuilt when
# its package list changes. Nothing is mounted once this script ends.
#   engine-roots.sh [SUITE…]     (default: sid trixie)
# Environment: DSTACK_E2E_ROOTS (default /var/tmp/docker-credential-dstack-e2e/roots).
# Needs root. The Debian archive is the one this machine's apt already uses.
set -euo pipefail
base=${DSTACK_E2E_ROOTS:-/var/tmp/docker-credential-dstack-e2e/roots}
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(sid trixie)

packages_for() {
  case "$1" in
    sid) echo "docker.io containerd runc iptables ca-certificates curl docker-cli podman skopeo crun conmon netavark aardvark-dns fuse-overlayfs passt docker-compose docker-buildx" ;;
    trixie) echo "docker.io containerd runc iptables ca-certificates curl docker-cli" ;;
    *) echo "engine-roots: unknown suite $1 (sid or trixie)" >&2; return 1 ;;
  esac
}

if [ "$(id -u)" -ne 0 ]; then
  echo "engine-roots: needs root (debootstrap, chroot); run it with sudo" >&2
  exit 1
fi

# The archive this machine's apt uses (deb822 sources first, then the one-line form).
archive=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$archive" ] || archive=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
if [ -z "$archive" ]; then
  echo "engine-roots: cannot find the Debian archive in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=3 -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends debootstrap >/dev/null
fi

mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
  mounted=()
}
trap cleanup EXIT

build() {
  local suite=$1 root="$base/$1" wanted stamp log
  wanted="$(packages_for "$suite")"
  stamp="$suite: $wanted"
  if [ -f "$root/.dstack-e2e-ready" ] && [ "$(cat "$root/.dstack-e2e-ready")" = "$stamp" ]; then
    echo "engine-roots: $suite ready at $root (cached)" >&2
    return 0
  fi
  # A root that is not ready (interrupted, or another package list) is made anew.
  if [ -d "$root" ]; then
    if findmnt -rn -o TARGET | grep -q "^$root"; then
      echo "engine-roots: $root has mounts in use (a test running?); not rebuilding it" >&2
      return 1
    fi
    rm -rf --one-file-system "$root"
  fi
  mkdir -p "$base"
  log=$(mktemp /tmp/engine-roots.XXXXXX.log)
  echo "engine-roots: building $suite at $root (debootstrap, then $wanted)" >&2
  local tries=0
  until debootstrap --variant=minbase "$suite" "$root.partial" "$archive" >"$log" 2>&1; do
    tries=$((tries + 1))
    if [ $tries -ge 3 ]; then
      tail -n 30 "$log" >&2
      echo "engine-roots: debootstrap $suite failed (log: $log)" >&2
      return 1
    fi
    rm -rf --one-file-system "$root.partial"
    sleep 5
  done
  local r="$root.partial"
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
  chmod 0755 "$r/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
  mount -t proc proc "$r/proc" && mounted+=("$r/proc")
  # The sid Release file served here can be past its Valid-Until.
  if ! chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get -o Acquire::Check-Valid-Until=false -o Acquire::Retries=3 update -qq && apt-get -o Acquire::Retries=3 install -y -qq --no-install-recommends $wanted && apt-get clean" >>"$log" 2>&1; then
    cleanup
    tail -n 30 "$log" >&2
    echo "engine-roots: installing the $suite engines failed (log: $log)" >&2
    return 1
  fi
  cleanup
  mv "$r" "$root"
  echo "$stamp" >"$root/.dstack-e2e-ready"
  rm -f "$log"
  echo "engine-roots: $suite ready at $root" >&2
}

status=0
for s in "${suites[@]}"; do build "$s" || status=1; done
exit $status
