import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { CodedError } from '../../common/errors.ts';
import { makeDirectorySync } from '../../common/make-directory.ts';
import { createNonceStore, type NonceStore } from './nonce-store.ts';

const BUSY_TIMEOUT_MS = 5000;
export const LEDGER_FILE = 'enrollments.sqlite';

// Which instances have enrolled: every cloud's evidence can be read by any process on the VM
// (a job container too), and AWS's cannot be bound to a challenge, so each (cloud, account,
// instance id) enrolls once. The ledger outlives restarts (a file in the data directory);
// several replicas must share one data directory or each would let an instance enroll once.
export interface EnrollmentLedger {
  // True when this call recorded the enrollment: a first one, or a repeat the operator allowed.
  claim(key: { cloud: string; account: string; instanceId: string }, at: Date, allowRepeat: boolean): boolean;
  nonces: NonceStore;
  close(): void;
}

export async function openEnrollmentLedger(dataDir: string): Promise<EnrollmentLedger> {
  const { DatabaseSync: Database } = await import('node:sqlite');
  const path = join(dataDir, LEDGER_FILE);
  let db: DatabaseSync;
  try {
    makeDirectorySync(dataDir, 0o700, 0o755);
    closeSync(openSync(path, 'a', 0o600));
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(
      'CREATE TABLE IF NOT EXISTS enrollments (cloud TEXT NOT NULL, account TEXT NOT NULL, instance_id TEXT NOT NULL, enrolled_at_ms INTEGER NOT NULL, times INTEGER NOT NULL, PRIMARY KEY (cloud, account, instance_id))',
    );
  } catch (error) {
    throw new CodedError(
      'store_unavailable',
      `cannot open the enrollment ledger ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check that the data directory is writable`,
    );
  }
  // One statement decides, so two hosts racing with the same evidence cannot both win.
  const first = db.prepare(
    'INSERT INTO enrollments (cloud, account, instance_id, enrolled_at_ms, times) VALUES (?, ?, ?, ?, 1) ON CONFLICT DO NOTHING',
  );
  const nonces = createNonceStore(db, path);
  const again = db.prepare(
    'INSERT INTO enrollments (cloud, account, instance_id, enrolled_at_ms, times) VALUES (?, ?, ?, ?, 1) ON CONFLICT DO UPDATE SET enrolled_at_ms = excluded.enrolled_at_ms, times = times + 1',
  );
  return {
    claim({ cloud, account, instanceId }, at, allowRepeat) {
      try {
        return Number((allowRepeat ? again : first).run(cloud, account, instanceId, at.getTime()).changes) > 0;
      } catch (error) {
        throw new CodedError('unavailable', `enrollment ledger ${path} failed (${(error as Error).message})`);
      }
    },
    nonces,
    close() {
      db.close();
    },
  };
}
