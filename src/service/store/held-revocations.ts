import { readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';

// When a running service finds its store file deleted or replaced, the revocations it holds
// live only in the file it still has open. It copies them beside the store as
// `revocations.sqlite.held-<inode>-<ms>`, and the next opening of the store (a restart, or
// `revoke`) merges every such copy in and removes it: a revocation is only ever added (the
// later time wins), so a merge can never re-admit an instance, and none is lost.
const HELD = '.held-';

export function saveHeldRevocations(db: DatabaseSync, storePath: string, inode: number): string {
  const copy = `${storePath}${HELD}${inode}-${Date.now()}`;
  db.prepare('VACUUM INTO ?').run(copy);
  return copy;
}

// Merges the held copies beside `storePath` into `db`; returns what it merged, for one line each.
export function mergeHeldRevocations(
  db: DatabaseSync,
  storePath: string,
): Array<{ file: string; revocations: number }> {
  const dir = dirname(storePath);
  const prefix = `${basename(storePath)}${HELD}`;
  const merged: Array<{ file: string; revocations: number }> = [];
  for (const name of readdirSync(dir)
    .filter((entry) => entry.startsWith(prefix) && /^\d+-\d+$/.test(entry.slice(prefix.length)))
    .sort()) {
    const file = join(dir, name);
    db.prepare('ATTACH DATABASE ? AS held').run(file);
    try {
      const result = db
        .prepare(
          'INSERT INTO main.revocations (instance, revoked_at_ms) SELECT instance, revoked_at_ms FROM held.revocations WHERE true ' +
            'ON CONFLICT (instance) DO UPDATE SET revoked_at_ms = max(revoked_at_ms, excluded.revoked_at_ms)',
        )
        .run();
      merged.push({ file, revocations: Number(result.changes) });
    } finally {
      db.exec('DETACH DATABASE held');
    }
    unlinkSync(file);
  }
  return merged;
}
