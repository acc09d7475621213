import { closeSync, openSync } from 'node:fs';
import type { DatabaseSync } from 'node:sqlite';
import { CodedError } from '../../common/errors.ts';
import { makeDirectorySync } from '../../common/make-directory.ts';
import type { RevocationStore } from '../core/ports.ts';

// How long a reader or writer waits for another process's lock (e.g. `revoke` writing
// while `serve` reads) before the request fails as unavailable.
const BUSY_TIMEOUT_MS = 5000;

// The embedded store: one SQLite file in the data directory, in WAL mode so the running
// service keeps reading while the `revoke` command writes from another process. Each
// lookup reads the file, so a revocation takes effect on the next request.
export async function openSqliteRevocationStore(path: string, dataDir: string): Promise<RevocationStore> {
  const { DatabaseSync: Database } = await import('node:sqlite');
  let db: DatabaseSync;
  try {
    makeDirectorySync(dataDir, 0o700, 0o755);
    // Created 0600 before SQLite opens it; SQLite gives its -wal/-shm files the same mode.
    closeSync(openSync(path, 'a', 0o600));
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('CREATE TABLE IF NOT EXISTS revocations (instance TEXT PRIMARY KEY, revoked_at_ms INTEGER NOT NULL)');
  } catch (error) {
    throw new CodedError('store_unavailable', `cannot open the revocation store ${path} (${reasonOf(error)}); check that the data directory is writable`);
  }
  const upsert = db.prepare(
    'INSERT INTO revocations (instance, revoked_at_ms) VALUES (?, ?) ' +
      'ON CONFLICT (instance) DO UPDATE SET revoked_at_ms = max(revoked_at_ms, excluded.revoked_at_ms)',
  );
  const select = db.prepare('SELECT revoked_at_ms FROM revocations WHERE instance = ?');
  const guarded = <T>(action: () => T): T => {
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
      if (db.isOpen) db.close();
    },
  };
}

function reasonOf(error: unknown): string {
  const e = error as { errstr?: string; code?: string; message?: string };
  return e.errstr ?? e.code ?? 'unknown error';
}
