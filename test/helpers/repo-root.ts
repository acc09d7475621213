import { resolve } from 'node:path';

// The checkout's root, for tests that run its scripts or read dist/ and test/fixtures/.
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
