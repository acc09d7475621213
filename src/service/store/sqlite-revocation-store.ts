import { closeSync, openSync, renameSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { CodedError } from '../../common/errors.ts';
import { makeDirectorySync } from '../../common/make-directory.ts';
import type { RevocationStore } from '../core/ports.ts';
import { mergeHeldRevocations, saveHeldRevocations } from './held-revocations.ts';
import { identityOf, identityText, leftoverJournal, sameFile, type FileIdentity } from './store-file-identity.ts';

// How long a reader or writer waits for another process's lock (e.g. `revoke` writing
// while `serve` reads) before the request fails as unavailable.
const BUSY_TIMEOUT_MS = 5000;

export interface SqliteStoreOptions {
  // A store file that is not the one created at the path (moved, copied or restored there):
  // `adopt` (serve, at start: the operator restored it on purpose; said in one line) or `refuse`
  // (revoke: a service still running may read another file, so the revocation might not reach it).
  foreignFile?: 'adopt' | 'refuse';
  notice?: (line: string) => void;
}

// The embedded store: one SQLite file in the data directory, in WAL mode so the running
// service keeps reading while the `revoke` command writes from another process. Each
// lookup reads the file, so a revocation takes effect on the next request. Before each lookup
// and write the path must still name the file opened (device and inode): once it does not,
// the store fails closed (503) until a restart, see markReplaced.
export async function openSqliteRevocationStore(
  path: string,
  dataDir: string,
  options: SqliteStoreOptions = {},
): Promise<RevocationStore> {
  const { DatabaseSync: Database } = await import('node:sqlite');
  const notice = options.notice ?? (() => {});
  const foreignFile = options.foreignFile ?? 'adopt';
  let db: DatabaseSync;
  let opened: FileIdentity;
  // This connection's -wal and -shm (they exist as long as it is open).
  let journal: Array<FileIdentity | undefined> = [];
  try {
    makeDirectorySync(dataDir, 0o700, 0o755);
    setAsideLeftoverJournal(path, foreignFile, notice);
    // Created 0600 before SQLite opens it; SQLite gives its -wal/-shm files the same mode.
    closeSync(openSync(path, 'a', 0o600));
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    opened = identityOf(path)!;
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('CREATE TABLE IF NOT EXISTS revocations (instance TEXT PRIMARY KEY, revoked_at_ms INTEGER NOT NULL)');
    db.exec('CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    journal = JOURNAL_SUFFIXES.map((suffix) => identityOf(`${path}${suffix}`));
  } catch (error) {
    if (error instanceof CodedError) throw error;
    throw new CodedError(
      'store_unavailable',
      `cannot open the revocation store ${path} (${reasonOf(error)}); check that the data directory is writable`,
    );
  }
  try {
    checkRecordedFile(db, path, opened, foreignFile, notice);
    for (const { file, revocations } of mergeHeldRevocations(db, path))
      notice(
        `revocation store ${path}: merged ${revocations} revocations from ${file}, kept by a service whose store file was replaced, and removed it`,
      );
  } catch (error) {
    db.close();
    if (error instanceof CodedError) throw error;
    throw new CodedError(
      'store_unavailable',
      `cannot open the revocation store ${path} (${reasonOf(error)}); check that the data directory is writable`,
    );
  }
  const upsert = db.prepare(
    'INSERT INTO revocations (instance, revoked_at_ms) VALUES (?, ?) ' +
      'ON CONFLICT (instance) DO UPDATE SET revoked_at_ms = max(revoked_at_ms, excluded.revoked_at_ms)',
  );
  const select = db.prepare('SELECT revoked_at_ms FROM revocations WHERE instance = ?');
  let replaced: string | undefined;

  // The path no longer names the file opened: answering from it would miss what `revoke`
  // writes to the new one (fail open), and writing to it would be lost at the next start. So
  // every lookup and write fails from now on (503) until the service restarts; what this file
  // holds is copied beside the store first, for that restart to merge in; then the connection is
  // closed and this file's -wal and -shm set aside (SQLite leaves them when its file is gone),
  // so that they are never paired with the new file.
  function markReplaced(now: FileIdentity | undefined): string {
    const what =
      now === undefined
        ? 'was deleted'
        : `was replaced by another file (it opened inode ${opened.ino}; the path now names inode ${now.ino})`;
    let kept: string;
    try {
      kept = `; the revocations it held are kept in ${saveHeldRevocations(db, path, opened.ino)} and merged in at the next start`;
    } catch (error) {
      kept = `; the revocations it held could not be copied (${reasonOf(error)}): record them again with revoke after the restart`;
    }
    if (db.isOpen) db.close();
    setAsideOwnJournal(path, journal);
    return `revocation store ${path} ${what} while this process had it open, so it cannot see revocations written to the path: credentials and tokens are refused until the service restarts and reads the file now at ${path}; restart it${kept}`;
  }
  const guarded = <T>(action: () => T): T => {
    if (replaced === undefined) {
      const now = identityOf(path);
      if (!sameFile(now, opened)) replaced = markReplaced(now);
    }
    if (replaced !== undefined) throw new CodedError('unavailable', replaced);
    try {
      return action();
    } catch (error) {
      throw new CodedError('unavailable', `revocation store ${path} is unavailable (${reasonOf(error)}); retry later`);
    }
  };
  return {
    async revoke(instance, at) {
      guarded(() => upsert.run(instance, at.getTime()));
    },
    async revokedAt(instance) {
      const row = guarded(() => select.get(instance)) as { revoked_at_ms: number } | undefined;
      return row ? new Date(Number(row.revoked_at_ms)) : undefined;
    },
    async close() {
      // A replacement nobody asked about yet is still caught, so that what this file holds is kept.
      const now = replaced === undefined && db.isOpen ? identityOf(path) : opened;
      if (!sameFile(now, opened)) replaced = markReplaced(now);
      if (db.isOpen) db.close();
    },
  };
}

// The store's own record of the file it was created as (device, inode and path): a copy put
// in place (rsync, cp of a backup) has another inode, a file moved in from elsewhere another
// path. Written at creation and checkpointed into the main file, so a plain copy carries it too.
function checkRecordedFile(
  db: DatabaseSync,
  path: string,
  opened: FileIdentity,
  foreignFile: 'adopt' | 'refuse',
  notice: (line: string) => void,
): void {
  const row = db.prepare("SELECT value FROM store_meta WHERE key = 'file'").get() as { value: string } | undefined;
  const actual = recordOf(path, opened);
  if (row?.value === actual) return;
  const was = row === undefined ? undefined : describeRecord(row.value);
  if (was !== undefined && foreignFile === 'refuse') {
    throw new CodedError(
      'store_replaced',
      `revocation store ${path} is not the file that was created there (it was created as ${was}; this is inode ${opened.ino} at ${resolve(path)}): it was copied, moved or restored into place, and a running service may still read the old file, so a revocation written here might never reach it; restart the service (it adopts this file and keeps what it held), then run revoke again`,
    );
  }
  if (was !== undefined)
    notice(
      `revocation store ${path} was copied, moved or restored into place (created as ${was}; this is inode ${opened.ino} at ${resolve(path)}): adopting it`,
    );
  db.prepare(
    "INSERT INTO store_meta (key, value) VALUES ('file', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  ).run(actual);
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
}

function recordOf(path: string, identity: FileIdentity): string {
  return JSON.stringify({ file: identityText(identity), path: resolve(path) });
}

function describeRecord(value: string): string {
  try {
    const { file, path } = JSON.parse(value) as { file: string; path: string };
    return `inode ${String(file).split(':')[1]} at ${path}`;
  } catch {
    return 'another file';
  }
}

// PATH gone but its -wal or -shm left: serve sets them aside (SQLite would pair them with the
// new file), revoke refuses (a service may still have the deleted file open).
function setAsideLeftoverJournal(path: string, foreignFile: 'adopt' | 'refuse', notice: (line: string) => void): void {
  if (identityOf(path) !== undefined) return;
  const leftover = leftoverJournal(path);
  if (leftover === undefined) return;
  if (foreignFile === 'refuse') {
    throw new CodedError(
      'store_replaced',
      `revocation store ${path} is missing but ${leftover} is still there: it was deleted while a service had it open (or after a crash), and a revocation written to a new file might never reach that service; restart the service (it keeps the revocations it held), then run revoke again`,
    );
  }
  const stamp = Date.now();
  for (const file of JOURNAL_SUFFIXES.map((suffix) => `${path}${suffix}`)) {
    if (identityOf(file) !== undefined) renameSync(file, `${file}.orphaned-${stamp}`);
  }
  notice(
    `revocation store ${path} was missing but its -wal/-shm were left (deleted while open, or after a crash): set them aside as *.orphaned-${stamp}, starting a new store`,
  );
}

const JOURNAL_SUFFIXES = ['-wal', '-shm'];

// Renames PATH-wal and PATH-shm aside if they are still the ones this connection had.
function setAsideOwnJournal(path: string, journal: Array<FileIdentity | undefined>): void {
  const stamp = Date.now();
  JOURNAL_SUFFIXES.forEach((suffix, i) => {
    const file = `${path}${suffix}`;
    try {
      if (sameFile(identityOf(file), journal[i])) renameSync(file, `${file}.orphaned-${stamp}`);
    } catch {
      // Best effort: the store already fails closed, and the next start sets leftovers aside.
    }
  });
}

function reasonOf(error: unknown): string {
  const e = error as { errstr?: string; code?: string; message?: string };
  return e.errstr ?? e.code ?? 'unknown error';
}
