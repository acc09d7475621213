import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDirectory, makeDirectorySync } from '../../src/common/make-directory.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'make-directory-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('makeDirectory', () => {
  it('creates missing levels with the mode and accepts an existing directory', async () => {
    const deep = join(dir, 'a', 'b', 'c');
    await makeDirectory(deep, 0o700);
    expect((await stat(deep)).isDirectory()).toBe(true);
    expect((await stat(join(dir, 'a'))).mode & 0o777).toBe(0o700);
    await expect(makeDirectory(deep)).resolves.toBeUndefined();
  });

  it('refuses a path under a file with ENOTDIR', async () => {
    await writeFile(join(dir, 'file'), 'x');
    await expect(makeDirectory(join(dir, 'file', 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it.runIf(existsSync('/proc/self'))(
    'fails at once under /proc, where recursive mkdir loops forever',
    async () => {
      const started = Date.now();
      await expect(makeDirectory('/proc/nope/deeper')).rejects.toMatchObject({ code: expect.stringMatching(/^E/) });
      expect(Date.now() - started).toBeLessThan(2000);
    },
    5000,
  );
});

describe('makeDirectorySync', () => {
  it('gives the leaf its mode and the levels above it theirs', () => {
    const leaf = join(dir, 'p', 'q', 'leaf');
    makeDirectorySync(leaf, 0o700, 0o755);
    expect(statSync(leaf).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'p')).mode & 0o777).toBe(0o755);
    expect(statSync(join(dir, 'p', 'q')).mode & 0o777).toBe(0o755);
  });
});
