import { describe, expect, it } from 'vitest';
import { createVerifiedTokenCache } from '../../../src/service/token/verified-token-cache.ts';

const identity = (instance: string, issuedAt: string, expiresAt: string) => ({
  instance,
  project: 'main',
  issuedAt: new Date(issuedAt),
  expiresAt: new Date(expiresAt),
});

describe('verified token cache', () => {
  it("returns a verified identity only inside its lifetime (plus the verifier's 30 s tolerance), then forgets it", () => {
    const cache = createVerifiedTokenCache();
    cache.set('t1', identity('i-1', '2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z'));
    expect(cache.get('t1', new Date('2026-01-01T00:30:00Z'))?.instance).toBe('i-1');
    expect(cache.get('t1', new Date('2026-01-01T01:00:29Z'))?.instance).toBe('i-1');
    expect(cache.get('t1', new Date('2026-01-01T01:00:30Z'))).toBeUndefined();
    expect(cache.get('t1', new Date('2026-01-01T00:30:00Z'))).toBeUndefined();
    expect(cache.get('other', new Date('2026-01-01T00:30:00Z'))).toBeUndefined();
  });

  it('sends a token issued in the future (clock moved back) to the full check', () => {
    const cache = createVerifiedTokenCache();
    cache.set('t', identity('i-1', '2026-01-01T00:10:00Z', '2026-01-01T01:00:00Z'));
    expect(cache.get('t', new Date('2026-01-01T00:05:00Z'))).toBeUndefined();
  });

  it('stays bounded, dropping the oldest entry first', () => {
    const cache = createVerifiedTokenCache(2);
    for (const name of ['a', 'b', 'c']) cache.set(name, identity(name, '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z'));
    const now = new Date('2026-01-01T12:00:00Z');
    expect([cache.get('a', now), cache.get('b', now)?.instance, cache.get('c', now)?.instance]).toEqual([
      undefined,
      'b',
      'c',
    ]);
  });
});
