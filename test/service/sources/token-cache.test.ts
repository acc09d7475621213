import { describe, expect, it } from 'vitest';
import { createTokenCache, type CachedToken } from '../../../src/service/sources/token-cache.ts';

const t0 = new Date('2026-01-15T12:00:00.000Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const token = (value: string, lifetimeSeconds = 100): CachedToken<string> => ({
  value,
  lifetimeSeconds,
  expiresAt: at(lifetimeSeconds),
});

describe('the broker token cache', () => {
  it('serves a token while more than a quarter of its life is left, then loads a new one', async () => {
    const cache = createTokenCache<string>();
    let loads = 0;
    const load = async () => token(`t${++loads}`);
    expect(await cache.get('r\nrepo', t0, load)).toMatchObject({ value: { value: 't1' }, result: 'miss' });
    expect(await cache.get('r\nrepo', at(74), load)).toMatchObject({ value: { value: 't1' }, result: 'hit' });
    expect(await cache.get('r\nrepo', at(75), load)).toMatchObject({ value: { value: 't2' }, result: 'miss' });
    expect(await cache.get('r\nother', at(75), load)).toMatchObject({ value: { value: 't3' }, result: 'miss' });
  });

  it('runs one load for concurrent requests of a scope; the others join it', async () => {
    const cache = createTokenCache<string>();
    let release!: () => void;
    let loads = 0;
    const load = () =>
      new Promise<CachedToken<string>>((resolve) => {
        loads++;
        release = () => resolve(token('shared'));
      });
    const all = Array.from({ length: 20 }, () => cache.get('s', t0, load));
    release();
    const results = await Promise.all(all);
    expect(loads).toBe(1);
    expect(results.map((r) => r.result).sort()).toEqual([...Array(19).fill('joined'), 'miss']);
    expect(new Set(results.map((r) => r.value.value))).toEqual(new Set(['shared']));
  });

  it('gives every waiter a failed load’s error and caches nothing', async () => {
    const cache = createTokenCache<string>();
    let release!: () => void;
    const failing = () =>
      new Promise<CachedToken<string>>((_resolve, reject) => (release = () => reject(new Error('realm down'))));
    const waiting = [cache.get('s', t0, failing), cache.get('s', t0, failing)].map((p) =>
      p.catch((e: Error) => e.message),
    );
    release();
    expect(await Promise.all(waiting)).toEqual(['realm down', 'realm down']);
    expect(cache.size()).toBe(0);
    expect((await cache.get('s', t0, async () => token('after'))).result).toBe('miss');
  });

  it('holds at most maxEntries tokens, dropping the oldest', async () => {
    const cache = createTokenCache<string>(2);
    for (const scope of ['a', 'b', 'c']) await cache.get(scope, t0, async () => token(scope));
    expect(cache.size()).toBe(2);
    expect((await cache.get('a', t0, async () => token('a2'))).result).toBe('miss');
    expect((await cache.get('c', t0, async () => token('c2'))).result).toBe('hit');
  });
});
