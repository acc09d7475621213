import { randomBytes, randomInt } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { CodedError } from '../../common/errors.ts';

// Outstanding nonces are bounded: issuing them needs no credential, so a flood must not grow
// the ledger without limit. Per cloud, far above any boot storm's needs inside one nonce
// lifetime; and per requesting address, so that one client cannot use up a cloud's nonces and
// stop every other host's enrollment (a host asks for one, uses it at once, and retries).
// Past a bound the answer is 503 with Retry-After (the contract has no 429: docs/contract.md).
export const MAX_OUTSTANDING_PER_CLOUD = 20_000;
export const MAX_OUTSTANDING_PER_REQUESTER = 256;

// Nonces the service issues for evidence that can carry one (GCP's audience, Azure's nonce):
// random, single-use, expiring in minutes. Kept beside the enrollment ledger, so they survive a
// restart and replicas sharing the data directory accept each other's.
export interface NonceStore {
  // `requester`: the client's address, for the per-requester bound.
  issue(cloud: string, now: Date, ttlSeconds: number, requester?: string): { nonce: string; expiresAt: Date };
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
  // A ledger written before the per-requester bound: the column comes in with an empty default.
  const columns = db.prepare('PRAGMA table_info(nonces)').all() as Array<{ name: string }>;
  if (!columns.some((c) => c.name === 'requester'))
    db.exec("ALTER TABLE nonces ADD COLUMN requester TEXT NOT NULL DEFAULT ''");
  const purge = db.prepare('DELETE FROM nonces WHERE expires_at_ms <= ?');
  const countCloud = db.prepare('SELECT count(*) AS n FROM nonces WHERE cloud = ?');
  const countRequester = db.prepare('SELECT count(*) AS n FROM nonces WHERE requester = ?');
  const insert = db.prepare('INSERT INTO nonces (nonce, cloud, expires_at_ms, requester) VALUES (?, ?, ?, ?)');
  const take = db.prepare('DELETE FROM nonces WHERE nonce = ? AND cloud = ? AND expires_at_ms > ?');
  const failed = (error: unknown) =>
    new CodedError('unavailable', `enrollment ledger ${path} failed (${(error as Error).message})`);
  return {
    issue(cloud, now, ttlSeconds, requester = '') {
      try {
        purge.run(now.getTime());
        const outstanding = (query: typeof countCloud, key: string) => Number((query.get(key) as { n: number }).n);
        if (requester !== '' && outstanding(countRequester, requester) >= MAX_OUTSTANDING_PER_REQUESTER)
          throw new CodedError(
            'unavailable',
            `${MAX_OUTSTANDING_PER_REQUESTER} enrollment nonces issued to this address are still outstanding; use one, or retry in a few minutes`,
          );
        if (outstanding(countCloud, cloud) >= MAX_OUTSTANDING_PER_CLOUD)
          throw new CodedError(
            'unavailable',
            `too many ${cloud} enrollment nonces are outstanding; retry in a few minutes`,
          );
        const format = FORMATS[cloud];
        if (!format) throw new Error(`no nonce format for ${cloud}`);
        const nonce = format.make();
        const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
        insert.run(nonce, cloud, expiresAt.getTime(), requester);
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
