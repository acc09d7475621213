import { randomUUID } from 'node:crypto';
import { expect, it, type TestContext } from 'vitest';
import type { RevocationStore } from '../../src/service/core/ports.ts';
import { isRevoked } from '../../src/service/store/is-revoked.ts';

export interface StoreUnderTest {
  // Opens a store on the same backing database each time (a second replica, or a restart).
  open(): Promise<RevocationStore>;
  // Why the backend is unavailable here (the test is skipped), or undefined.
  skipReason?(): string | undefined;
}

// The same behaviour for every RevocationStore implementation.
export function revocationStoreSuite(subject: StoreUnderTest): void {
  const stores: RevocationStore[] = [];
  const open = async (ctx: TestContext) => {
    const reason = subject.skipReason?.();
    if (reason) ctx.skip(reason);
    const store = await subject.open();
    stores.push(store);
    ctx.onTestFinished(async () => {
      await store.close();
    });
    return store;
  };
  const instance = () => `i-${randomUUID()}`;

  it('answers undefined for an instance never revoked, and the time after revoke', async (ctx) => {
    const store = await open(ctx);
    const id = instance();
    expect(await store.revokedAt(id)).toBeUndefined();
    const at = new Date('2026-11-26T21:00:00.123Z');
    await store.revoke(id, at);
    expect((await store.revokedAt(id))?.toISOString()).toBe(at.toISOString());
    expect(await store.revokedAt(instance())).toBeUndefined();
  });

  it('keeps the latest revocation time whatever the order', async (ctx) => {
    const store = await open(ctx);
    const id = instance();
    await store.revoke(id, new Date('2026-11-26T21:00:00.000Z'));
    await store.revoke(id, new Date('2026-11-26T22:00:00.500Z'));
    await store.revoke(id, new Date('2026-11-26T20:00:00.000Z'));
    expect((await store.revokedAt(id))?.toISOString()).toBe('2026-11-26T22:00:00.500Z');
  });

  it('survives a restart (close and reopen)', async (ctx) => {
    const first = await open(ctx);
    const id = instance();
    await first.revoke(id, new Date('2026-11-26T21:00:00.000Z'));
    await first.close();
    const second = await open(ctx);
    expect((await second.revokedAt(id))?.toISOString()).toBe('2026-11-26T21:00:00.000Z');
  });

  it("two open stores (replicas) see each other's revocations at once", async (ctx) => {
    const a = await open(ctx);
    const b = await open(ctx);
    const id = instance();
    expect(await b.revokedAt(id)).toBeUndefined();
    await a.revoke(id, new Date('2026-11-26T21:00:00.000Z'));
    expect((await b.revokedAt(id))?.toISOString()).toBe('2026-11-26T21:00:00.000Z');
    await b.revoke(id, new Date('2026-11-26T21:05:00.000Z'));
    expect((await a.revokedAt(id))?.toISOString()).toBe('2026-11-26T21:05:00.000Z');
  });

  it('isRevoked: issued at or before the revocation is revoked, after is not', async (ctx) => {
    const store = await open(ctx);
    const id = instance();
    const at = new Date('2026-11-26T21:00:00.400Z');
    expect(await isRevoked(store, id, at)).toBe(false);
    await store.revoke(id, at);
    expect(await isRevoked(store, id, new Date(at.getTime() - 1))).toBe(true);
    expect(await isRevoked(store, id, at)).toBe(true);
    expect(await isRevoked(store, id, new Date(at.getTime() + 1))).toBe(false);
  });

  it('handles many concurrent revocations without losing any', async (ctx) => {
    const a = await open(ctx);
    const b = await open(ctx);
    const ids = Array.from({ length: 40 }, instance);
    await Promise.all(ids.map((id, n) => (n % 2 ? a : b).revoke(id, new Date(1_800_000_000_000 + n))));
    const seen = await Promise.all(ids.map((id) => a.revokedAt(id)));
    expect(seen.map((d) => d?.getTime())).toEqual(ids.map((_, n) => 1_800_000_000_000 + n));
  });
}
