import { lstatSync, readdirSync, chmodSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CodedError } from '../../common/errors.ts';
import { makeDirectorySync } from '../../common/make-directory.ts';
import { readRegularFile } from '../../common/read-regular-file.ts';
import { entryKeyOf, parseEntry, serializeEntry, type CacheEntry } from './cache-entry.ts';
import type { CredentialCache, FetchFailure } from './credential-cache.ts';
import { entryFileName, failureFileName, lockFileName } from './entry-file-name.ts';

const MAX_ENTRY_BYTES = 64 * 1024;

export interface FileCacheOptions {
  // Told why an entry file was not trusted (no secrets in the reason).
  onIgnored?: (reason: string) => void;
}

// A directory only its owner can use (0700), one file per registry key (0600), each written
// atomically. Reads trust only regular files owned by this user and unreadable by others;
// anything else (corrupt, foreign-owned, too open, a symlink) is ignored and later replaced.
export function openFileCache(dir: string, options: FileCacheOptions = {}): CredentialCache {
  const ignored = options.onIgnored ?? (() => {});
  const uid = process.getuid?.() ?? 0;
  const pathOf = (key: string) => join(dir, entryFileName(key));
  return {
    read(registryKey) {
      const path = pathOf(registryKey);
      const text = readOwnFile(path, uid, ignored);
      if (text === undefined) return undefined;
      const entry = parseEntry(text);
      if (!entry || entryKeyOf(entry) !== registryKey) {
        ignored(`cache file ${path} is corrupt or belongs to another key; ignoring it`);
        return undefined;
      }
      return entry;
    },
    async write(entry) {
      ensurePrivateDir(dir, uid);
      const { atomicWrite } = await import('../../common/atomic-write.ts');
      await atomicWrite(pathOf(entryKeyOf(entry)), serializeEntry(entry), {
        mode: 0o600,
        uid,
        gid: process.getgid?.() ?? 0,
      });
    },
    erase(registryKey) {
      const path = pathOf(registryKey);
      try {
        removeIfThere(path);
      } catch (error) {
        throw new CodedError(
          'cache_unwritable',
          `cannot remove cache entry ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}): make ${dir} writable for this user or set DOCKER_CREDENTIAL_DSTACK_CACHE_DIR`,
        );
      }
    },
    list() {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return [];
      }
      const entries: CacheEntry[] = [];
      for (const name of names) {
        if (!/^[0-9a-f]{32}\.json$/.test(name)) continue;
        const text = readOwnFile(join(dir, name), uid, ignored);
        const entry = text === undefined ? undefined : parseEntry(text);
        if (entry && entryFileName(entryKeyOf(entry)) === name) entries.push(entry);
      }
      return entries;
    },
    lockPath(registryKey) {
      try {
        ensurePrivateDir(dir, uid);
      } catch {
        return undefined;
      }
      return join(dir, lockFileName(registryKey));
    },
    readFailure(registryKey) {
      const text = readOwnFile(join(dir, failureFileName(registryKey)), uid, ignored);
      return text === undefined ? undefined : parseFailure(text);
    },
    recordFailure(registryKey, failure) {
      const path = join(dir, failureFileName(registryKey));
      if (failure === undefined) return removeIfThere(path);
      // Small and short-lived: replaced whole, and a torn file only reads as "no failure".
      removeIfThere(path);
      writeFileSync(path, JSON.stringify(failure), { mode: 0o600, flag: 'wx' });
    },
  };
}

function parseFailure(text: string): FetchFailure | undefined {
  try {
    const value = JSON.parse(text) as Partial<FetchFailure>;
    if (
      typeof value.at === 'number' &&
      typeof value.server === 'string' &&
      typeof value.code === 'string' &&
      typeof value.message === 'string'
    ) {
      return {
        ...(typeof value.id === 'string' ? { id: value.id } : {}),
        at: value.at,
        server: value.server,
        code: value.code,
        message: value.message,
      };
    }
  } catch {
    // torn or foreign: no failure
  }
  return undefined;
}

function removeIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

// Creates the directory 0700 or checks the existing one: ours and not a symlink. A directory
// someone else owns (say a planted /tmp/docker-credential-dstack-1000) is never used.
export function ensurePrivateDir(dir: string, uid: number): void {
  try {
    // Parents other than the cache directory itself get the usual 0755.
    makeDirectorySync(dir, 0o700, 0o755);
  } catch (error) {
    throw new CodedError(
      'cache_unsafe',
      `cannot create cache directory ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'}): set DOCKER_CREDENTIAL_DSTACK_CACHE_DIR to a directory this user may create`,
    );
  }
  const stats = lstatSync(dir);
  if (!stats.isDirectory())
    throw new CodedError(
      'cache_unsafe',
      `cache directory ${dir} is not a directory: remove it or set DOCKER_CREDENTIAL_DSTACK_CACHE_DIR`,
    );
  if (stats.uid !== uid)
    throw new CodedError(
      'cache_unsafe',
      `cache directory ${dir} belongs to uid ${stats.uid}, not to this user (uid ${uid}): remove it or set DOCKER_CREDENTIAL_DSTACK_CACHE_DIR`,
    );
  if ((stats.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

// Every file the host keeps in its cache directory is read this way (also the endpoint's
// upstream list): a regular file, not a link, this user's, private, and small.
export function readOwnFile(path: string, uid: number, ignored: (reason: string) => void): string | undefined {
  const read = readRegularFile(path, { maxBytes: MAX_ENTRY_BYTES });
  switch (read.kind) {
    case 'missing':
      return undefined;
    case 'unreadable':
      return reject(`cannot open cache file ${path} (${read.code}); ignoring it`);
    case 'not_regular':
      return reject(`cache file ${path} is not a regular file (${read.what}); ignoring it`);
    case 'too_large':
      return reject(`cache file ${path} is too large; ignoring it`);
  }
  if (read.stats.uid !== uid)
    return reject(`cache file ${path} belongs to uid ${read.stats.uid}, not to this user; ignoring it`);
  if ((read.stats.mode & 0o077) !== 0)
    return reject(
      `cache file ${path} is readable by others (mode ${(read.stats.mode & 0o777).toString(8)}); ignoring it`,
    );
  return read.text;

  function reject(reason: string): undefined {
    ignored(reason);
    return undefined;
  }
}
