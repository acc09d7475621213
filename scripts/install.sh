#!/bin/sh
# Installs docker-credential-dstack on a runner host and points the host's engines at it:
#   install.sh --server URL (--token-file PATH | --token-stdin) [options] [-- configure options]
#   install.sh --uninstall [options] [-- unconfigure options]
# Idempotent: a second run with the same arguments changes nothing. See docs/host-setup.md.
set -eu

usage() {
  cat <<'USAGE'
Usage: install.sh --server URL (--token-file PATH | --token-stdin) [options] [-- configure options]
       install.sh --uninstall [options] [-- unconfigure options]
Options:
  --server URL        the dstack-registry-auth base URL (https://…, or unix:/path.sock)
  --token-file PATH   read the instance token from PATH
  --token-stdin       read the instance token from standard input
  --binary PATH       the helper binary (default: dist/docker-credential-dstack-linux-<arch> next to this script)
  --prefix DIR        install into DIR/bin (default /usr/local)
  --config-dir DIR    helper config and token (default /etc/docker-credential-dstack)
  --no-configure      install only; do not run `configure`
  --uninstall         run `unconfigure`, then remove what install.sh installed
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
while [ $# -gt 0 ]; do
  case "$1" in
    --server) [ $# -ge 2 ] || die "--server needs a URL"; SERVER=$2; shift 2 ;;
    --token-file) [ $# -ge 2 ] || die "--token-file needs a path"; TOKEN_FILE=$2; shift 2 ;;
    --token-stdin) TOKEN_STDIN=1; shift ;;
    --binary) [ $# -ge 2 ] || die "--binary needs a path"; BINARY=$2; shift 2 ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift 2 ;;
    --config-dir) [ $# -ge 2 ] || die "--config-dir needs a directory"; CONFIG_DIR=$2; shift 2 ;;
    --no-configure) CONFIGURE=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

# The helper runs from any directory, so the paths it is given must be absolute.
case "$CONFIG_DIR" in /*) ;; *) CONFIG_DIR="$(pwd)/$CONFIG_DIR" ;; esac
case "$PREFIX" in /*) ;; *) PREFIX="$(pwd)/$PREFIX" ;; esac

TARGET="$PREFIX/bin/docker-credential-dstack"
CONFIG="$CONFIG_DIR/config.json"
TOKEN="$CONFIG_DIR/token"
MANIFEST="$CONFIG_DIR/.installed-by-install-sh"
export DOCKER_CREDENTIAL_DSTACK_CONFIG="$CONFIG"
case "$SERVER$TOKEN" in
  *'"'*|*'\'*) die "--server and --config-dir must not contain quotes or backslashes" ;;
esac

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
  if [ -f "$MANIFEST" ]; then
    while IFS= read -r path; do
      [ -n "$path" ] && rm -f "$path" && echo "removed: $path"
    done <"$MANIFEST"
    rm -f "$MANIFEST"
  fi
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
elif [ ! -s "$TOKEN" ]; then
  die "no instance token yet: pass --token-file PATH or --token-stdin"
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

if [ "$CONFIGURE" = 1 ]; then
  "$TARGET" configure "$@"
fi
echo "installed: $TARGET"
