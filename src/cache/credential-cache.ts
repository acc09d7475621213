import type { CacheEntry } from './cache-entry.ts';

// The cache as the helper uses it. Strictly best-effort: a read that fails is a miss, and
// a write that fails costs a server request next time, never a pull.
export interface CredentialCache {
  read(registryKey: string): CacheEntry | undefined;
  write(entry: CacheEntry): Promise<void>;
  erase(registryKey: string): void;
  list(): CacheEntry[];
  // Path of the cross-process lock for one key; undefined when there is nowhere to lock.
  lockPath(registryKey: string): string | undefined;
}

// Used when the cache directory is unsafe or unusable: every read misses.
export const nullCache: CredentialCache = {
  read: () => undefined,
  write: async () => {},
  erase: () => {},
  list: () => [],
  lockPath: () => undefined,
};
