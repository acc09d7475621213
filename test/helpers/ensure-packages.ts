import { builtBinary, REPO_ROOT } from './repo-root.ts';
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

// The end-to-end stage needs real programs; when they are missing it installs them (as root,
// through scripts/e2e/install-packages.sh) or fails with what to do. It never skips: a
// scenario that cannot run must fail CI, not pass it silently.
export const REQUIRED_TOOLS = [
  'dockerd',
  'containerd',
  'ctr',
  'runc',
  'docker',
  'docker-registry',
  'skopeo',
  'podman',
  'docker-compose',
  'htpasswd',
  'openssl',
  'curl',
  'runuser',
  'faketime',
];

const REPO = REPO_ROOT;
export const HELPER_BINARY = builtBinary('docker-credential-dstack');
export const SERVICE_BINARY = builtBinary('dstack-registry-auth');

// E2E_FROM_SOURCE=1 runs src/bin/*.ts with the project's Node instead of the built binaries:
// only for developing these tests while the binaries cannot be built. CI never sets it.
export const FROM_SOURCE = process.env.E2E_FROM_SOURCE === '1' && process.env.CI !== 'true';
const NODE = join(REPO, 'node_modules/.bin/node');

// argv prefix that runs the service / the helper.
export function serviceCommand(): [string, ...string[]] {
  return FROM_SOURCE ? [NODE, join(REPO, 'src/bin/dstack-registry-auth.ts')] : [SERVICE_BINARY];
}
export function helperShim(): string {
  return `#!/bin/sh\nexec ${NODE} ${join(REPO, 'src/bin/docker-credential-dstack.ts')} "$@"\n`;
}

let checked = false;

export function ensureE2ePrerequisites(): void {
  if (checked) return;
  let missing = missingTools();
  if (missing.length > 0 && process.getuid?.() === 0) {
    const run = spawnSync('bash', [join(REPO, 'scripts/e2e/install-packages.sh')], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`e2e: installing packages failed (exit ${run.status}): ${run.stderr.trim()}`);
    missing = missingTools();
  }
  if (missing.length > 0) {
    throw new Error(
      `e2e: missing ${missing.join(', ')}; run "sudo bash scripts/e2e/install-packages.sh" (Debian) and retry`,
    );
  }
  const binaries = FROM_SOURCE ? [] : [HELPER_BINARY, SERVICE_BINARY].filter((path) => !isExecutable(path));
  if (binaries.length > 0) {
    throw new Error(
      `e2e: ${binaries.join(', ')} not built; run "npm run build:binary -- --host-only" first (npm test does)`,
    );
  }
  if (process.getuid?.() !== 0) {
    throw new Error('e2e: a private dockerd and podman need root; run the e2e stage as root (CI does)');
  }
  checked = true;
}

export function missingTools(): string[] {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin', '/usr/bin']);
  return REQUIRED_TOOLS.filter((tool) => !dirs.some((dir) => dir !== '' && isExecutable(join(dir, tool))));
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
