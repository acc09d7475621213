import { randomBytes, randomInt } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { CodedError } from '../../common/errors.ts';

// Outstanding nonces are bounded: issuing them needs no credential, so a flood must not grow
// the ledger without limit. Far above any boot storm's needs inside one nonce lifetime.
const MAX_OUTSTANDING = 20_000;

// Nonces the service issues for evidence that can carry one (GCP's audience, Azure's nonce):
// random, single-use, expiring in minutes. Kept beside the enrollment ledger, so they survive a
// restart and replicas sharing the data directory accept each other's.
export interface NonceStore {
  issue(cloud: string, now: Date, ttlSeconds: number): { nonce: string; expiresAt: Date };
  // True once: for a nonce this store issued for `cloud`, not yet used, not expired.
  consume(cloud: string, nonce: string, now: Date): boolean;
}

// GCP's audience takes any text: 24 random bytes. Azure's nonce is a 10-digit string (IMDS
// refuses others); with a few minutes of life, single use and an outstanding bound, enough.
const FORMATS: Record<string, { make(): string; valid: RegExp }> = {
  gcp: { make: () => randomBytes(24).toString('base64url'), valid: /^[A-Za-z0-9_-]{32}$/ },
  azure: { make: () => String(randomInt(0, 1e10)).padStart(10, '0'), valid: /^\d{10}$/ },
};

export function createNonceStore(db: DatabaseSync, path: string): NonceStore {
  db.exec(
    'CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, cloud TEXT NOT NULL, expires_at_ms INTEGER NOT NULL)',
  );
  const purge = db.prepare('DELETE FROM nonces WHERE expires_at_ms <= ?');
  const count = db.prepare('SELECT count(*) AS n FROM nonces');
  const insert = db.prepare('INSERT INTO nonces (nonce, cloud, expires_at_ms) VALUES (?, ?, ?)');
  const take = db.prepare('DELETE FROM nonces WHERE nonce = ? AND cloud = ? AND expires_at_ms > ?');
  const failed = (error: unknown) =>
    new CodedError('unavailable', `enrollment ledger ${path} failed (${(error as Error).message})`);
  return {
    issue(cloud, now, ttlSeconds) {
      try {
        purge.run(now.getTime());
        if (Number((count.get() as { n: number }).n) >= MAX_OUTSTANDING)
          throw new CodedError('rate_limited', 'too many enrollment nonces are outstanding; retry in a few minutes');
        const format = FORMATS[cloud];
        if (!format) throw new Error(`no nonce format for ${cloud}`);
        const nonce = format.make();
        const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
        insert.run(nonce, cloud, expiresAt.getTime());
        return { nonce, expiresAt };
      } catch (error) {
        if (error instanceof CodedError) throw error;
        throw failed(error);
      }
    },
    consume(cloud, nonce, now) {
      if (!FORMATS[cloud]?.valid.test(nonce)) return false;
      try {
        return Number(take.run(nonce, cloud, now.getTime()).changes) > 0;
      } catch (error) {
        throw failed(error);
      }
    },
  };
}
