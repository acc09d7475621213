#!/bin/sh
# Installs docker-credential-dstack on a runner host and points the host's engines at it:
#   install.sh --server URL (--token-file PATH | --token-stdin | --enroll CLOUD) [options] [-- configure options]
#   install.sh --uninstall [options] [-- unconfigure options]
# Where systemd runs, also the mirror endpoint's socket and service units (socket activation:
# nothing runs between pulls). Idempotent: a second run with the same arguments changes
# nothing. See docs/host-setup.md and docs/mirror.md.
set -eu

usage() {
  cat <<'USAGE'
Usage: install.sh --server URL (--token-file PATH | --token-stdin | --enroll CLOUD) [options] [-- configure options]
       install.sh --uninstall [options] [-- unconfigure options]
Options:
  --server URL        the dstack-registry-auth base URL (https://…, or unix:/path.sock)
  --token-file PATH   read the instance token from PATH
  --token-stdin       read the instance token from standard input
  --enroll CLOUD      no token: the host enrolls by its cloud identity (aws, gcp, azure), now unless
                      --no-configure, and at every boot through docker-credential-dstack-enroll.service
                      until it holds a token (docs/enrollment.md, docs/cloud-images.md)
  --binary PATH       the helper binary (default: dist/docker-credential-dstack-linux-<arch> next to this script)
  --prefix DIR        install into DIR/bin (default /usr/local)
  --config-dir DIR    helper config and token (default /etc/docker-credential-dstack)
  --no-configure      install only; do not run `configure`
  --uninstall         run `unconfigure`, then remove what install.sh installed
Mirror endpoint (docker-credential-dstack mirror, docs/mirror.md), where systemd runs:
  --systemd-dir DIR   where its .socket and .service units go (default /etc/systemd/system);
                      given explicitly, the units are written even where systemd does not run
  --no-systemctl      write the units but run no systemctl (image builds, tests)
  --no-mirror-units   do not install the units
  --for-dstack-server the dstack server host's endpoint (local-name mode, docs/with-dstack.md):
                      TLS from `mirror-cert` in <config dir>/tls, --metadata-only, no configure
USAGE
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

SERVER=""
TOKEN_FILE=""
TOKEN_STDIN=0
BINARY=""
PREFIX="/usr/local"
CONFIG_DIR="/etc/docker-credential-dstack"
CONFIGURE=1
UNINSTALL=0
SYSTEMD_DIR=""
SYSTEMCTL_RUN=1
MIRROR_UNITS=1
FOR_SERVER=0
ENROLL=""
while [ $# -gt 0 ]; do
  case "$1" in
    --server) [ $# -ge 2 ] || die "--server needs a URL"; SERVER=$2; shift 2 ;;
    --token-file) [ $# -ge 2 ] || die "--token-file needs a path"; TOKEN_FILE=$2; shift 2 ;;
    --token-stdin) TOKEN_STDIN=1; shift ;;
    --enroll) [ $# -ge 2 ] || die "--enroll needs a cloud (aws, gcp or azure)"; ENROLL=$2; shift 2 ;;
    --binary) [ $# -ge 2 ] || die "--binary needs a path"; BINARY=$2; shift 2 ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift 2 ;;
    --config-dir) [ $# -ge 2 ] || die "--config-dir needs a directory"; CONFIG_DIR=$2; shift 2 ;;
    --no-configure) CONFIGURE=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --systemd-dir) [ $# -ge 2 ] || die "--systemd-dir needs a directory"; SYSTEMD_DIR=$2; shift 2 ;;
    --no-systemctl) SYSTEMCTL_RUN=0; shift ;;
    --no-mirror-units) MIRROR_UNITS=0; shift ;;
    --for-dstack-server) FOR_SERVER=1; CONFIGURE=0; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

# The helper runs from any directory, so the paths it is given must be absolute.
case "$CONFIG_DIR" in /*) ;; *) CONFIG_DIR="$(pwd)/$CONFIG_DIR" ;; esac
case "$PREFIX" in /*) ;; *) PREFIX="$(pwd)/$PREFIX" ;; esac
case "$SYSTEMD_DIR" in /*|'') ;; *) SYSTEMD_DIR="$(pwd)/$SYSTEMD_DIR" ;; esac

TARGET="$PREFIX/bin/docker-credential-dstack"
CONFIG="$CONFIG_DIR/config.json"
TOKEN="$CONFIG_DIR/token"
MANIFEST="$CONFIG_DIR/.installed-by-install-sh"
export DOCKER_CREDENTIAL_DSTACK_CONFIG="$CONFIG"
# These end up inside JSON strings and systemd unit lines.
case "$SERVER$TOKEN$TARGET" in
  *'"'*|*'\'*|*' '*|*'%'*) die "--server, --prefix and --config-dir must not contain quotes, backslashes, spaces or %" ;;
esac

case "$ENROLL" in ''|aws|gcp|azure) ;; *) die "--enroll $ENROLL: enrollment is available for aws, gcp and azure" ;; esac

# The mirror endpoint's units go in where systemd runs (sd_booted(3): /run/systemd/system;
# DSTACK_INSTALL_SYSTEMD_RUNTIME for tests), or where --systemd-dir says.
SYSTEMD=0
if [ "$MIRROR_UNITS" = 1 ] || [ -n "$ENROLL" ]; then
  if [ -n "$SYSTEMD_DIR" ]; then SYSTEMD=1
  elif [ -d "${DSTACK_INSTALL_SYSTEMD_RUNTIME:-/run/systemd/system}" ]; then SYSTEMD=1; SYSTEMD_DIR=/etc/systemd/system
  fi
fi
SOCKET_UNIT=docker-credential-dstack-mirror.socket
SERVICE_UNIT=docker-credential-dstack-mirror.service
ENROLL_UNIT=docker-credential-dstack-enroll.service
# The endpoint's address: DEFAULT_MIRROR_LISTEN in src/host/mirror/server/default-listen.ts, which
# `configure --mirror-endpoint` points the engines at.
MIRROR_LISTEN=127.0.0.1:8484
# On the dstack server host the endpoint serves the dstack server's plan-time reads: python-dxf
# speaks only https, and it reads manifests, tag lists and config blobs, never a layer.
MIRROR_ARGS=""
TLS_DIR="$CONFIG_DIR/tls"
if [ "$FOR_SERVER" = 1 ]; then
  MIRROR_ARGS=" --metadata-only --tls-cert $TLS_DIR/cert.pem --tls-key $TLS_DIR/key.pem"
fi
# The program run as systemctl (DSTACK_INSTALL_SYSTEMCTL: a test's recorder).
SYSTEMCTL=${DSTACK_INSTALL_SYSTEMCTL:-systemctl}

# systemctl, unless --no-systemctl; a failure stops the script with its command named.
run_systemctl() {
  if [ "$SYSTEMCTL_RUN" = 0 ]; then
    echo "not run (--no-systemctl): systemctl $*"
    return 0
  fi
  "$SYSTEMCTL" "$@" || die "systemctl $* failed; see: journalctl -u $SERVICE_UNIT -u $SOCKET_UNIT"
}

# Writes stdin to $1 with mode $2 through a temp file in the same directory and a rename;
# leaves the file alone when the content is already the same.
put_file() {
  tmp="$1.install.$$"
  umask 077
  cat >"$tmp"
  chmod "$2" "$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then
    rm -f "$tmp"
    chmod "$2" "$1"
    echo "unchanged: $1"
  else
    mv -f "$tmp" "$1"
    echo "wrote: $1"
  fi
  grep -qxF "$1" "$MANIFEST" 2>/dev/null || echo "$1" >>"$MANIFEST"
}

if [ "$UNINSTALL" = 1 ]; then
  if [ -x "$TARGET" ]; then
    "$TARGET" unconfigure "$@" || die "unconfigure failed; fix the cause above and run --uninstall again (nothing was removed)"
  else
    echo "install.sh: warning: no $TARGET to run unconfigure with; engine and client config files were left as they are" >&2
  fi
  # The engines no longer name the endpoint: stop it before its units go.
  UNITS=0
  if [ -f "$MANIFEST" ] && grep -q "/$ENROLL_UNIT\$" "$MANIFEST"; then
    UNITS=1
    run_systemctl disable "$ENROLL_UNIT"
  fi
  if [ -f "$MANIFEST" ] && grep -q "/$SOCKET_UNIT\$" "$MANIFEST"; then
    UNITS=1
    run_systemctl disable --now "$SOCKET_UNIT"
    run_systemctl stop "$SERVICE_UNIT"
  fi
  if [ -f "$MANIFEST" ]; then
    while IFS= read -r path; do
      [ -n "$path" ] && rm -f "$path" && echo "removed: $path"
    done <"$MANIFEST"
    rm -f "$MANIFEST"
  fi
  if [ "$UNITS" = 1 ]; then run_systemctl daemon-reload; fi
  rmdir "$CONFIG_DIR/tls" 2>/dev/null || true
  rmdir "$CONFIG_DIR" 2>/dev/null || true
  echo "uninstalled"
  exit 0
fi

if [ -z "$BINARY" ]; then
  case "$(uname -m)" in
    x86_64|amd64) ARCH=x64 ;;
    aarch64|arm64) ARCH=arm64 ;;
    *) die "unsupported architecture $(uname -m); pass --binary PATH" ;;
  esac
  BINARY="$(cd "$(dirname "$0")/.." && pwd)/dist/docker-credential-dstack-linux-$ARCH"
fi
[ -f "$BINARY" ] || die "no helper binary at $BINARY; build it (npm run build:binary) or pass --binary PATH"

# Everything is checked before anything is written: a refused run leaves no half install, and
# an empty token never replaces a good one. The token stays in a shell variable (printf is a
# builtin, so it never shows in the process list).
[ -n "$SERVER" ] || [ -f "$CONFIG" ] || die "no helper config yet: pass --server URL"
NEW_TOKEN=""
if [ -n "$TOKEN_FILE" ]; then
  [ -r "$TOKEN_FILE" ] || die "cannot read --token-file $TOKEN_FILE"
  NEW_TOKEN=$(tr -d '\r\n' <"$TOKEN_FILE")
  [ -n "$NEW_TOKEN" ] || die "--token-file $TOKEN_FILE is empty; nothing was installed"
elif [ "$TOKEN_STDIN" = 1 ]; then
  NEW_TOKEN=$(tr -d '\r\n')
  [ -n "$NEW_TOKEN" ] || die "no instance token on standard input; nothing was installed"
elif [ ! -s "$TOKEN" ] && [ -z "$ENROLL" ]; then
  die "no instance token yet: pass --token-file PATH, --token-stdin or --enroll CLOUD"
fi

mkdir -p "$PREFIX/bin" "$CONFIG_DIR"
chmod 0755 "$CONFIG_DIR"
put_file "$TARGET" 0755 <"$BINARY"

if [ -n "$SERVER" ]; then
  printf '{\n  "server": "%s",\n  "tokenFile": "%s"\n}\n' "$SERVER" "$TOKEN" | put_file "$CONFIG" 0644
fi
if [ -n "$NEW_TOKEN" ]; then
  printf '%s' "$NEW_TOKEN" | put_file "$TOKEN" 0600
fi

# The dstack server host's certificate, made once (a later run keeps it: the dstack server
# trusts bundle.pem as it was printed); its four files are removed by --uninstall.
if [ "$FOR_SERVER" = 1 ]; then
  if [ -f "$TLS_DIR/cert.pem" ] && [ -f "$TLS_DIR/key.pem" ]; then
    echo "unchanged: $TLS_DIR (the endpoint's certificate)"
  else
    "$TARGET" mirror-cert --out "$TLS_DIR" || die "mirror-cert failed; see the line above"
  fi
  for f in ca.pem cert.pem key.pem bundle.pem; do
    grep -qxF "$TLS_DIR/$f" "$MANIFEST" 2>/dev/null || echo "$TLS_DIR/$f" >>"$MANIFEST"
  done
fi

# The endpoint's units: the socket listens on loopback, systemd starts the service at the first
# connection, and the service exits when idle. Installed and started before configure, which
# points the engines at the endpoint when it is enabled.
if [ "$SYSTEMD" = 1 ] && [ -n "$ENROLL" ]; then
  mkdir -p "$SYSTEMD_DIR"
  # Enrollment at boot, before the engines and the endpoint start: a host with no token gets
  # one from its cloud identity; with a token in place enroll does nothing. With --no-configure
  # (an image being baked has no token and no service to ask) configure runs there, at boot.
  CONFIGURE_AT_BOOT=""
  if [ "$CONFIGURE" = 0 ]; then CONFIGURE_AT_BOOT="ExecStartPost=-$TARGET configure"; fi
  put_file "$SYSTEMD_DIR/$ENROLL_UNIT" 0644 <<UNIT
# Installed by docker-credential-dstack's install.sh; removed by install.sh --uninstall.
[Unit]
Description=docker-credential-dstack enrollment by cloud identity (an instance token at first boot)
Wants=network-online.target
After=network-online.target
Before=$SOCKET_UNIT docker.service containerd.service

[Service]
Type=oneshot
RemainAfterExit=yes
Environment=DOCKER_CREDENTIAL_DSTACK_CONFIG=$CONFIG
ExecStart=$TARGET enroll --cloud $ENROLL
$CONFIGURE_AT_BOOT
Restart=on-failure
RestartSec=15

[Install]
WantedBy=multi-user.target
UNIT
  run_systemctl daemon-reload
  run_systemctl enable "$ENROLL_UNIT"
fi
if [ "$SYSTEMD" = 1 ] && [ "$MIRROR_UNITS" = 1 ]; then
  mkdir -p "$SYSTEMD_DIR"
  put_file "$SYSTEMD_DIR/$SOCKET_UNIT" 0644 <<UNIT
# Installed by docker-credential-dstack's install.sh; removed by install.sh --uninstall.
[Unit]
Description=docker-credential-dstack mirror endpoint socket (host-local Docker Hub mirror)

[Socket]
ListenStream=$MIRROR_LISTEN
Accept=no
NoDelay=yes

[Install]
WantedBy=sockets.target
UNIT
  put_file "$SYSTEMD_DIR/$SERVICE_UNIT" 0644 <<UNIT
# Installed by docker-credential-dstack's install.sh; removed by install.sh --uninstall.
# Started by $SOCKET_UNIT at the first pull; exits after 10 minutes without a connection.
[Unit]
Description=docker-credential-dstack mirror endpoint (engine pulls with short-lived credentials)
Requires=$SOCKET_UNIT
After=$SOCKET_UNIT network-online.target
Wants=network-online.target

[Service]
Type=simple
Environment=DOCKER_CREDENTIAL_DSTACK_CONFIG=$CONFIG
ExecStart=$TARGET mirror --idle-exit 10m$MIRROR_ARGS
TimeoutStopSec=15
NoNewPrivileges=yes
ProtectSystem=full
ProtectHome=read-only
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectControlGroups=yes
# AF_NETLINK: glibc's getaddrinfo asks the kernel for the host's addresses (AI_ADDRCONFIG).
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
UNIT
  run_systemctl daemon-reload
  run_systemctl enable --now "$SOCKET_UNIT"
  # A running endpoint keeps the old binary and config until it exits: restart it if it runs.
  run_systemctl try-restart "$SERVICE_UNIT"
elif [ "$MIRROR_UNITS" = 1 ]; then
  echo "no systemd here (no /run/systemd/system): the mirror endpoint's units were not installed."
  echo "  To use the endpoint, run it in the foreground as root under this host's supervisor:"
  echo "    DOCKER_CREDENTIAL_DSTACK_CONFIG=$CONFIG $TARGET mirror   # listens on $MIRROR_LISTEN (docs/mirror.md)"
fi

if [ "$CONFIGURE" = 1 ]; then
  if [ -n "$ENROLL" ]; then "$TARGET" enroll --cloud "$ENROLL"; fi
  "$TARGET" configure "$@"
elif [ "$FOR_SERVER" = 1 ]; then
  echo "not configured (--for-dstack-server): this host's engines are left alone. Give the dstack server"
  echo "  DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY=$MIRROR_LISTEN and REQUESTS_CA_BUNDLE=$TLS_DIR/bundle.pem"
fi
echo "installed: $TARGET"
