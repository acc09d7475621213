import { createHash } from 'node:crypto';

// One file per registry key. The key is hashed so that any key (ports, brackets, slashes of
// Docker Hub's URL) makes a safe, fixed-length file name; the entry itself names its key.
export function entryFileName(registryKey: string): string {
  return `${createHash('sha256').update(registryKey).digest('hex').slice(0, 32)}.json`;
}

export function lockFileName(registryKey: string): string {
  return entryFileName(registryKey).replace(/\.json$/, '.lock');
}
