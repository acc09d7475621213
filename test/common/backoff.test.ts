import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../src/common/backoff.ts';

describe('backoff: exponential, full jitter', () => {
  it('draws the wait from the whole window [0, base × 2^(n-1)], capped', () => {
    const rule = { baseMs: 100, capMs: 2000 };
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, rule, () => 1))).toEqual([100, 200, 400, 800]);
    expect([1, 2, 3].map((n) => backoffDelayMs(n, rule, () => 0))).toEqual([0, 0, 0]);
    expect(backoffDelayMs(3, rule, () => 0.25)).toBe(100);
    expect(backoffDelayMs(10, rule, () => 1)).toBe(2000);
    expect(backoffDelayMs(12, { baseMs: 200 }, () => 1)).toBe(200 * 2 ** 11);
  });

  it('spreads a fleet over the window instead of bunching it in its upper half', () => {
    const waits = Array.from({ length: 2000 }, () => backoffDelayMs(4, { baseMs: 100 }));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...waits)).toBeLessThanOrEqual(800);
    expect(waits.filter((w) => w < 400).length).toBeGreaterThan(800);
  });
});
