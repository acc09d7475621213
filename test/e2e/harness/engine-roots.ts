import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// The newer engines of the matrix (docs/e2e.md, "Engine matrix") live in Debian roots that
// scripts/e2e/engine-roots.sh builds with debootstrap; the host keeps Debian 12's engines.
// A program of a root runs through `unshare --mount` then `chroot`: its mounts (the root bound
// onto itself, /proc, /sys, /dev, a tmpfs /tmp and the test's own directories) live in a mount
// namespace that dies with the program, so nothing is left mounted whatever happens to the test.
export type Suite = 'sid' | 'trixie';

export interface EngineRoot {
  suite: Suite;
  dir: string;
  // Debian package → version installed in the root, e.g. docker.io → 28.5.2+dfsg3-1.
  packages: Map<string, string>;
}

export const ROOTS_DIR = process.env.DSTACK_E2E_ROOTS ?? '/var/tmp/docker-credential-dstack-e2e/roots';
const READY_STAMP = '.dstack-e2e-ready';

// Reads the root's dpkg database, so a test title can name the version before anything runs.
// A missing root is an error, never a skip: CI builds the roots in `npm test`'s pretest.
export function engineRoot(suite: Suite): EngineRoot {
  const dir = join(ROOTS_DIR, suite);
  if (!existsSync(join(dir, READY_STAMP))) {
    throw new Error(
      `e2e: the ${suite} engine root is not built at ${dir}; run "sudo bash scripts/e2e/engine-roots.sh ${suite}" (npm test does)`,
    );
  }
  return { suite, dir, packages: installedPackages(join(dir, 'var/lib/dpkg/status')) };
}

// The host's own packages, read the same way.
export function hostPackages(): Map<string, string> {
  return installedPackages('/var/lib/dpkg/status');
}

function installedPackages(statusFile: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const stanza of readFileSync(statusFile, 'utf8').split('\n\n')) {
    const name = /^Package: (.+)$/m.exec(stanza)?.[1];
    const version = /^Version: (.+)$/m.exec(stanza)?.[1];
    if (name && version && /^Status: install ok installed$/m.test(stanza)) found.set(name, version);
  }
  return found;
}

// `28.5.2+dfsg3-1` → `28.5.2`: the upstream version a reader of the CI log looks for.
export function upstreamVersion(packages: Map<string, string>, name: string): string {
  const version = packages.get(name);
  if (!version) throw new Error(`e2e: package ${name} is not installed where the matrix expects it`);
  return version.replace(/^\d+:/, '').replace(/[+~-].*$/, '');
}

// A directory of the host seen at `target` inside the root (the same path when omitted).
export interface Bind {
  source: string;
  target?: string;
}

const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// Mounts happen in the new namespace only (propagation private), then chroot execs the
// program in place: the PID the caller gets is the program's own.
const ENTER_ROOT = `set -e
root=$1; shift
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
while [ "$1" != "--" ]; do
  [ -d "$root$2" ] || mkdir -p "$root$2"
  mount --bind "$1" "$root$2"
  shift 2
done
shift
exec chroot "$root" env PATH="${ROOT_PATH}" "$@"`;

// argv that runs `argv` from the root with `binds` visible; the caller's environment passes
// through (chroot keeps it), PATH is the root's.
export function inRoot(root: EngineRoot, argv: string[], binds: Bind[] = []): [string, string[]] {
  const pairs = binds.flatMap((bind) => [bind.source, bind.target ?? bind.source]);
  for (const target of pairs.filter((_, i) => i % 2 === 1)) {
    // A target is made only under the root's private tmpfs dirs, or already exists (such as
    // /etc/docker/certs.d): the cached root itself is never written.
    if (!/^\/(tmp|run)\//.test(target) && !existsSync(join(root.dir, target))) {
      throw new Error(`inRoot: bind target ${target} must be under /tmp or /run, or exist in ${root.dir}`);
    }
  }
  return [
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', '-c', ENTER_ROOT, 'enter-root', root.dir, ...pairs, '--', ...argv],
  ];
}

// The same argv on the host (no root) or from a root of the matrix.
export function engineCommand(
  root: EngineRoot | undefined,
  argv: [string, ...string[]],
  binds: Bind[] = [],
): [string, string[]] {
  return root ? inRoot(root, argv, binds) : [argv[0], argv.slice(1)];
}
