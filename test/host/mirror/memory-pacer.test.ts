import { describe, expect, it } from 'vitest';
import { createMemoryPacer } from '../../../src/host/mirror/forwarding/memory-pacer.ts';

describe('memory pacer', () => {
  it('collects the young generation once per threshold of piped bytes, freeing dead buffers', () => {
    const pace = createMemoryPacer(1024 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    // 64 MiB of 64 KiB buffers that die at once, as piped chunks do
    for (let i = 0; i < 1024; i++) {
      const chunk = Buffer.allocUnsafeSlow(64 * 1024);
      chunk[0] = i;
      pace(chunk.length);
    }
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown).toBeLessThan(32 * 1024 * 1024);
  });

  it('a threshold of 0 does nothing', () => {
    expect(() => createMemoryPacer(0)(1 << 30)).not.toThrow();
  });
});
