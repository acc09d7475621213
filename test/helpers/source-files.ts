import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

// The tree's own sources, for tests that read the code itself (import rules, error codes).
export const SRC = resolve(import.meta.dirname, '../../src');

// Every .ts file below dir.
export function sourceFiles(dir: string = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}
