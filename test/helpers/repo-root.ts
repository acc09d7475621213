import { join, resolve } from 'node:path';

// The checkout's root, for tests that run its scripts or read dist/ and test/fixtures/.
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

// A built binary of this machine's architecture in dist/ (npm run build:binary).
export function builtBinary(name: 'docker-credential-dstack' | 'dstack-registry-auth'): string {
  return join(REPO_ROOT, 'dist', `${name}-linux-${process.arch === 'arm64' ? 'arm64' : 'x64'}`);
}
