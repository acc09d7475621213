import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restoreBackup, writeChange } from '../../../src/host/setup/journal/apply-change.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dstack-apply-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('writeChange', () => {
  it('writes the new text and keeps one backup of the old', async () => {
    const target = join(dir, 'daemon.json');
    await writeFile(target, '{}\n', { mode: 0o640 });
    await writeChange(target, '{}\n', '{"debug": true}\n', 0o644, 'Docker daemon config', `${target}.dstack-backup`);
    expect(await readFile(target, 'utf8')).toBe('{"debug": true}\n');
    expect(await readFile(`${target}.dstack-backup`, 'utf8')).toBe('{}\n');
    // A backup already there is kept: it holds the file from before the first configure.
    await writeChange(
      target,
      '{"debug": true}\n',
      '{"debug": false}\n',
      0o644,
      'Docker daemon config',
      `${target}.dstack-backup`,
    );
    expect(await readFile(`${target}.dstack-backup`, 'utf8')).toBe('{}\n');
  });

  it('a file another program changed since the plan was made is left alone', async () => {
    const target = join(dir, 'daemon.json');
    await writeFile(target, '{"theirs": 1}\n');
    await expect(writeChange(target, '{}\n', '{"ours": 1}\n', 0o644, 'Docker daemon config')).rejects.toThrow(
      /daemon\.json was changed by something else while this command ran; it was left as it is, run the command again/,
    );
    expect(await readFile(target, 'utf8')).toBe('{"theirs": 1}\n');
    expect(await readdir(dir)).toEqual(['daemon.json']);
  });

  it('a file that appeared since a plan that found none is left alone', async () => {
    const target = join(dir, 'hosts.toml');
    await writeFile(target, 'server = "https://theirs.example"\n');
    await expect(writeChange(target, undefined, '# ours\n', 0o644, 'containerd hosts.toml')).rejects.toThrow(
      /changed by something else/,
    );
    expect(await readFile(target, 'utf8')).toBe('server = "https://theirs.example"\n');
  });

  it('restoreBackup also refuses a file changed since the plan', async () => {
    const target = join(dir, 'config.json');
    await writeFile(target, '{"edited": true}\n');
    await writeFile(`${target}.dstack-backup`, '{}\n');
    await expect(
      restoreBackup(target, `${target}.dstack-backup`, 'Docker client config', '{"ours": true}\n'),
    ).rejects.toThrow(/changed by something else/);
    expect(await readFile(target, 'utf8')).toBe('{"edited": true}\n');
  });
});
