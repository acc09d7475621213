import type { CacheEntry } from './cache-entry.ts';

// A fetch that failed because the server could not answer, shared with the processes that
// waited for it, so a burst of pulls against a broken server makes one request, not twenty.
export interface FetchFailure {
  // Unique per record: a waiter counts only a record that was not there when it began waiting,
  // so its own process's earlier failure, written in the same millisecond, is never taken for
  // "another process has just failed".
  id?: string;
  at: number; // ms since the epoch, wall clock (for the reader of the file; not compared)
  // The server that failed: processes talking to another server share the directory, not its failures.
  server: string;
  code: string;
  message: string;
}

// The cache as the helper uses it, by cache key (cacheKeyOf: a registry, or a repository in
// it). Strictly best-effort: a read that fails is a miss, and
// a write that fails costs a server request next time, never a pull.
export interface CredentialCache {
  read(registryKey: string): CacheEntry | undefined;
  write(entry: CacheEntry): Promise<void>;
  erase(registryKey: string): void;
  list(): CacheEntry[];
  // Path of the cross-process lock for one key; undefined when there is nowhere to lock.
  lockPath(registryKey: string): string | undefined;
  readFailure(registryKey: string): FetchFailure | undefined;
  // Records (or, with undefined, clears) the last failure for a key.
  recordFailure(registryKey: string, failure: FetchFailure | undefined): void;
}

// Used when the cache directory is unsafe or unusable: every read misses.
export const nullCache: CredentialCache = {
  read: () => undefined,
  write: async () => {},
  erase: () => {},
  list: () => [],
  lockPath: () => undefined,
  readFailure: () => undefined,
  recordFailure: () => {},
};
