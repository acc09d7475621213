import { existsSync } from 'node:fs';
import { execa } from 'execa';

// Debian's python3 with `requests`: what the dstack server's image read runs on
// (test/fixtures/dstack-image-read.py). Under CI=true its absence is a failure, never a skip:
// CI installs python3-requests (scripts/e2e/install-packages.sh).
export const PYTHON = '/usr/bin/python3';

export async function pythonRequestsAvailable(env: Record<string, string | undefined> = process.env): Promise<boolean> {
  const found =
    existsSync(PYTHON) && (await execa(PYTHON, ['-c', 'import requests'], { reject: false })).exitCode === 0;
  if (!found && env.CI === 'true')
    throw new Error(
      `${PYTHON} with the requests module is not installed; CI must install python3-requests (scripts/e2e/install-packages.sh)`,
    );
  return found;
}
