import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

// A real `docker-registry serve CONFIG.yml` on a loopback port chosen at run time (the
// registry is told port 0 and reports the one it got), stopped by PID, log exposed, plus the
// hand-built image seeding. One implementation, shared with the end-to-end harness.
export { startRegistry, readRegistryLog, type RegistryProcess, type RegistryAuth } from './registry-process.ts';
export { seedImage, type SeededImage } from './seed-image.ts';

// Whether tests against the real registry can run here. Under CI=true a missing binary is a
// failure, never a skip: CI installs Debian's docker-registry (scripts/e2e/install-packages.sh).
export function dockerRegistryAvailable(env: Record<string, string | undefined> = process.env): boolean {
  const dirs = (env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/usr/local/bin']);
  const found = dirs.some((dir) => {
    if (dir === '') return false;
    try {
      accessSync(join(dir, 'docker-registry'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found && env.CI === 'true')
    throw new Error('docker-registry is not installed; CI must install it (scripts/e2e/install-packages.sh)');
  return found;
}
