import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceClient } from '../../../src/host/client/service-client.ts';
import { serviceUpstreams } from '../../../src/host/mirror/upstream/upstream-source.ts';

// The upstream list the endpoint keeps in the cache directory is read as every cache file:
// a FIFO, another user's or a world-readable file is ignored with a line saying why.
const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function sourceOver(write: (path: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'upstream-list-'));
  dirs.push(dir);
  write(join(dir, 'mirror-upstreams.json'));
  const warnings: string[] = [];
  const down = async (): Promise<ServiceClient> => {
    throw new Error('connect ECONNREFUSED');
  };
  const source = serviceUpstreams({
    client: down,
    cacheDir: dir,
    server: 'https://dstack.example',
    log: { debug() {}, warn: (m) => warnings.push(m) },
  });
  return { source, warnings };
}

const LIST = `${JSON.stringify({ upstreams: [{ url: 'https://h.example', registry: 'h.example', library: 'keep' }] })}\n`;

describe('the cached upstream list', () => {
  it('a FIFO is refused at once (never opened for a writer), with a line naming it', async () => {
    const { source, warnings } = sourceOver((path) => execFileSync('mkfifo', ['-m', '600', path]));
    const startedAt = performance.now();
    await expect(source.current()).rejects.toThrow(/no upstream known/);
    expect(performance.now() - startedAt).toBeLessThan(1000);
    expect(warnings).toEqual([
      expect.stringMatching(/^cache file .*mirror-upstreams\.json is not a regular file \(a FIFO\); ignoring it$/),
    ]);
  });

  it('a file others may read is ignored; a private one of this user is used', async () => {
    const open = sourceOver((path) => {
      writeFileSync(path, LIST);
      chmodSync(path, 0o644);
    });
    await expect(open.source.current()).rejects.toThrow(/no upstream known/);
    expect(open.warnings).toEqual([expect.stringMatching(/is readable by others \(mode 644\); ignoring it$/)]);
    const own = sourceOver((path) => writeFileSync(path, LIST, { mode: 0o600 }));
    expect((await own.source.current()).map((u) => u.url)).toEqual(['https://h.example']);
  });
});
