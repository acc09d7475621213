import { describe, expect, it } from 'vitest';
import { runInNewContext } from 'node:vm';
import { compactHeap } from '../../../src/service/http/compact-heap.ts';

// Builds garbage that only a full collection reclaims, out of reach of the caller.
function unreachable(): WeakRef<object> {
  return new WeakRef({ payload: new Array(10_000).fill('start-up garbage') });
}

describe('compactHeap', () => {
  it('runs a full collection: an unreachable object is gone afterwards', async () => {
    const ref = unreachable();
    // A WeakRef target stays alive until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    compactHeap();
    expect(ref.deref()).toBeUndefined();
  });

  it('leaves gc hidden from other contexts', () => {
    compactHeap();
    expect(runInNewContext('typeof gc')).toBe('undefined');
  });
});
