import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { createNonceStore, MAX_OUTSTANDING_PER_REQUESTER } from '../../../src/service/enrollment/nonce-store.ts';
import { codeOf } from '../../helpers/error-code.ts';

// Issuing a nonce needs no credential, so one client must not be able to use up a cloud's
// nonces and stop every other host's enrollment (issue 20; review of the nonce route).
describe('enrollment nonces', () => {
  const now = new Date('2026-12-04T02:00:00.000Z');

  it('are bounded per requesting address: one address at its bound is refused, another is served, a used nonce frees its slot', () => {
    const nonces = createNonceStore(new DatabaseSync(':memory:'), ':memory:');
    const issued = Array.from({ length: MAX_OUTSTANDING_PER_REQUESTER }, () =>
      nonces.issue('gcp', now, 300, '203.0.113.7'),
    );
    expect(codeOf(() => nonces.issue('gcp', now, 300, '203.0.113.7'))).toBe('unavailable');
    expect(nonces.issue('gcp', now, 300, '198.51.100.9').nonce).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(nonces.consume('gcp', issued[0]!.nonce, now)).toBe(true);
    expect(nonces.issue('gcp', now, 300, '203.0.113.7').nonce).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // Expired ones no longer count.
    const later = new Date(now.getTime() + 301_000);
    expect(nonces.issue('gcp', later, 300, '203.0.113.7').nonce).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('a ledger from before the bound gains the column and keeps its nonces', () => {
    const db = new DatabaseSync(':memory:');
    db.exec('CREATE TABLE nonces (nonce TEXT PRIMARY KEY, cloud TEXT NOT NULL, expires_at_ms INTEGER NOT NULL)');
    db.prepare('INSERT INTO nonces VALUES (?, ?, ?)').run('0123456789', 'azure', now.getTime() + 60_000);
    const nonces = createNonceStore(db, ':memory:');
    expect(nonces.consume('azure', '0123456789', now)).toBe(true);
  });
});
