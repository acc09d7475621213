import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { atomicWrite } from '../../src/common/atomic-write.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'atomic-write-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('atomicWrite', () => {
  it('replaces a file, keeps its mode, and leaves no temp file', async () => {
    const path = join(dir, 'daemon.json');
    await writeFile(path, 'old', { mode: 0o640 });
    expect(await atomicWrite(path, 'new')).toBe(true);
    expect(await readFile(path, 'utf8')).toBe('new');
    expect((await stat(path)).mode & 0o777).toBe(0o640);
    expect(await readdir(dir)).toEqual(['daemon.json']);
  });

  it('exclusive: of two writers the first wins and the second is told so, without a trace', async () => {
    const path = join(dir, 'instance.key');
    const results = await Promise.all([
      atomicWrite(path, 'first', { mode: 0o600, exclusive: true }),
      atomicWrite(path, 'second', { mode: 0o600, exclusive: true }),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(['first', 'second'][results.indexOf(true)]).toBe(await readFile(path, 'utf8'));
    expect(await atomicWrite(path, 'third', { exclusive: true })).toBe(false);
    expect(['first', 'second']).toContain(await readFile(path, 'utf8'));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['instance.key']);
  });
});
