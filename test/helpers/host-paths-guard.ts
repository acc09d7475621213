import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PATHS } from '../../src/host/setup/setup-options.ts';

// A vitest globalSetup: the paths configure, install.sh and the helper write when a test
// forgets to point them elsewhere (configure writes every installed engine's files by
// default; root's credential cache is /run/docker-credential-dstack). Their state before the
// run must be their state after it, or the run fails naming what changed: a test writes only
// inside its own temporary directories.
const WATCHED = [
  ...Object.values(DEFAULT_PATHS),
  '/var/lib/docker-credential-dstack',
  '/etc/docker-credential-dstack',
  '/run/docker-credential-dstack',
  '/root/.docker/config.json',
  '/etc/systemd/system/docker-credential-dstack.service',
];

function fingerprint(path: string): string {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(path);
  } catch {
    return 'absent';
  }
  if (stat.isDirectory()) {
    const entries = readdirSync(path).sort();
    return `dir(${entries.map((entry) => `${entry}=${fingerprint(join(path, entry))}`).join(',')})`;
  }
  if (stat.isFile()) return `file:${createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16)}`;
  return `other:${stat.mode}`;
}

export default function setup(): () => void {
  const before = new Map(WATCHED.map((path) => [path, fingerprint(path)]));
  return () => {
    const changed = WATCHED.filter((path) => fingerprint(path) !== before.get(path));
    if (changed.length > 0) {
      throw new Error(
        `a test wrote outside its temporary directories: ${changed.join(', ')} changed during the run; find the configure or helper call without its path flags (--engines, --state-dir, --*-dir, --containerd-config, a cache dir), then restore these files`,
      );
    }
  };
}
