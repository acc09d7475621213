import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMintingSource, type Minter } from '../../../../src/service/sources/cloud/minting-source.ts';
import { MINT_DEADLINE_MS, VendorFailure } from '../../../../src/service/core/vendor-failure.ts';
import { createMetrics } from '../../../../src/service/observability/metrics.ts';
import type { CredentialRequest, RegistryEntry } from '../../../../src/service/core/ports.ts';

// A vendor SDK call that never settles (a request timeout that only warns, a metadata server
// with no limit) must not wedge single flight: every waiter gets the unreachable answer at the
// mint deadline, and the next request asks again once the failure hold is over.
describe('cloud source: the mint deadline', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('two waiters on a hung mint both get one readable failure at the deadline; nothing stays pending', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const hung: Minter = {
      scope: () => 'one-scope',
      mint: () => {
        calls++;
        return new Promise(() => {});
      },
    };
    const lines: string[] = [];
    const source = createMintingSource({
      kind: 'ecr',
      loadMinter: async () => hung,
      clock: () => new Date(Date.now()),
      metrics: createMetrics(),
      log: (line) => lines.push(line),
    });
    const entry = { key: '123456789012.dkr.ecr.eu-central-1.amazonaws.com' } as RegistryEntry;
    const request = { registry: entry, now: new Date() } as unknown as CredentialRequest;
    const first = source.issue(request).then(
      () => 'issued',
      (error: unknown) => error,
    );
    const second = source.issue(request).then(
      () => 'issued',
      (error: unknown) => error,
    );
    await vi.advanceTimersByTimeAsync(MINT_DEADLINE_MS - 1);
    let settled = false;
    void first.then(() => (settled = true));
    await Promise.resolve();
    expect(settled, 'not before the deadline').toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    for (const outcome of [await first, await second]) {
      expect(outcome).toBeInstanceOf(VendorFailure);
      expect((outcome as VendorFailure).outcome).toBe('unreachable');
      expect((outcome as VendorFailure).message).toContain(`did not answer within ${MINT_DEADLINE_MS / 1000} s`);
    }
    expect(calls, 'single flight: one call for both waiters').toBe(1);
  });
});
