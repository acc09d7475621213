import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatBytes, readRegularFile } from '../../src/common/read-regular-file.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'read-regular-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('readRegularFile', () => {
  it('reads a small regular file with its stats', async () => {
    await writeFile(join(dir, 'f'), 'hello', { mode: 0o640 });
    const read = readRegularFile(join(dir, 'f'), { maxBytes: 5 });
    expect(read.kind === 'file' && [read.text, read.stats.mode & 0o777]).toEqual(['hello', 0o640]);
  });

  it('reports a missing file, a too large one, and what is not a regular file, without blocking', async () => {
    await writeFile(join(dir, 'big'), '123456');
    await mkdir(join(dir, 'd'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    await symlink(join(dir, 'big'), join(dir, 'link'));
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, 'sock'), resolve));
    try {
      expect(readRegularFile(join(dir, 'none'), { maxBytes: 10 })).toEqual({ kind: 'missing' });
      expect(readRegularFile(join(dir, 'big'), { maxBytes: 5 })).toEqual({ kind: 'too_large', size: 6 });
      expect(readRegularFile(join(dir, 'd'), { maxBytes: 10 })).toEqual({ kind: 'not_regular', what: 'a directory' });
      expect(readRegularFile(join(dir, 'fifo'), { maxBytes: 10 })).toEqual({ kind: 'not_regular', what: 'a FIFO' });
      expect(readRegularFile(join(dir, 'link'), { maxBytes: 10 })).toEqual({
        kind: 'not_regular',
        what: 'a symbolic link',
      });
      expect(readRegularFile(join(dir, 'sock'), { maxBytes: 10 })).toEqual({ kind: 'not_regular', what: 'a socket' });
      expect(readRegularFile('/dev/null', { maxBytes: 10, followLinks: true })).toEqual({
        kind: 'not_regular',
        what: 'a device',
      });
    } finally {
      server.close();
    }
  });

  it('follows a link only when asked', async () => {
    await writeFile(join(dir, 'target'), 'via link');
    await symlink(join(dir, 'target'), join(dir, 'link'));
    const read = readRegularFile(join(dir, 'link'), { maxBytes: 100, followLinks: true });
    expect(read.kind === 'file' && read.text).toBe('via link');
  });

  it('formats sizes for messages', () => {
    expect([formatBytes(512), formatBytes(8192), formatBytes(9000), formatBytes(2 * 1024 * 1024)]).toEqual([
      '512 bytes',
      '8 KiB',
      '8.8 KiB',
      '2 MiB',
    ]);
  });
});
