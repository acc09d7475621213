import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensurePrivateDir, openFileCache } from '../../../src/host/cache/file-cache.ts';
import { entryFileName } from '../../../src/host/cache/entry-file-name.ts';
import type { CacheEntry } from '../../../src/host/cache/cache-entry.ts';
import { Secret } from '../../../src/common/secret.ts';

let root: string;
let dir: string;
const isRoot = process.getuid?.() === 0;

// A file owned by another user needs root (CAP_CHOWN). Under CI=true these tests run whatever
// the user and fail loudly without it; elsewhere a non-root run says why it skips them.
function needsChown(ctx: { skip: (note?: string) => void }): void {
  if (isRoot) return;
  const why = 'making a file owned by another user needs root (CAP_CHOWN); run the unit tests as root, as CI does';
  if (process.env.CI === 'true') throw new Error(why);
  ctx.skip(why);
}
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'dcd-cache-'));
  dir = join(root, 'cache');
});
afterEach(() => rm(root, { recursive: true, force: true }));

const entry = (registry: string, username = 'u'): CacheEntry => ({
  kind: 'credential',
  registry,
  username,
  secret: new Secret('the-secret'),
  issuedAt: new Date(),
  expiresAt: new Date(Date.now() + 60_000),
});

describe('ensurePrivateDir', () => {
  it('a directory that cannot be created is named with the cause and what to do', async () => {
    await writeFile(join(root, 'a-file'), '');
    const dir = join(root, 'a-file', 'cache');
    expect(() => ensurePrivateDir(dir, process.getuid?.() ?? 0)).toThrow(
      `cannot create cache directory ${dir} (ENOTDIR): set DOCKER_CREDENTIAL_DSTACK_CACHE_DIR to a directory this user may create`,
    );
  });
});

describe('openFileCache', () => {
  it('writes one 0600 file per key (hashed name) in a 0700 directory and reads it back', async () => {
    const cache = openFileCache(dir);
    await cache.write(entry('https://index.docker.io/v1/'));
    await cache.write(entry('127.0.0.1:5000', 'other'));
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const names = (await readdir(dir)).sort();
    expect(names).toEqual([entryFileName('127.0.0.1:5000'), entryFileName('https://index.docker.io/v1/')].sort());
    for (const name of names) expect((await stat(join(dir, name))).mode & 0o777).toBe(0o600);
    expect(cache.read('127.0.0.1:5000')).toMatchObject({ username: 'other' });
    expect(
      cache
        .list()
        .map((e) => e.registry)
        .sort(),
    ).toEqual(['127.0.0.1:5000', 'https://index.docker.io/v1/']);
    cache.erase('127.0.0.1:5000');
    expect(cache.read('127.0.0.1:5000')).toBeUndefined();
    cache.erase('127.0.0.1:5000');
  });

  it('ignores a corrupt file, a file for another key, a file others can read, and a symlink', async () => {
    const reasons: string[] = [];
    const cache = openFileCache(dir, { onIgnored: (reason) => reasons.push(reason) });
    await cache.write(entry('a.example'));
    const path = join(dir, entryFileName('a.example'));
    const good = await readFile(path, 'utf8');

    await writeFile(path, 'garbage');
    expect(cache.read('a.example')).toBeUndefined();

    await writeFile(join(dir, entryFileName('b.example')), good, { mode: 0o600 });
    expect(cache.read('b.example')).toBeUndefined();

    await writeFile(path, good);
    await chmod(path, 0o640);
    expect(cache.read('a.example')).toBeUndefined();

    await rm(path);
    await writeFile(join(root, 'elsewhere'), good, { mode: 0o600 });
    await symlink(join(root, 'elsewhere'), path);
    expect(cache.read('a.example')).toBeUndefined();

    expect(reasons.join('\n')).toMatch(/corrupt[\s\S]*another key[\s\S]*readable by others[\s\S]*a symbolic link/);
    expect(reasons.join('\n')).not.toContain('the-secret');
  });

  it('ignores a foreign-owned file and replaces it with one of its own', async (ctx) => {
    needsChown(ctx);
    const cache = openFileCache(dir);
    await cache.write(entry('a.example'));
    const path = join(dir, entryFileName('a.example'));
    await chown(path, 65534, 65534);
    expect(cache.read('a.example')).toBeUndefined();
    await cache.write(entry('a.example', 'mine'));
    expect((await stat(path)).uid).toBe(0);
    expect(cache.read('a.example')).toMatchObject({ username: 'mine' });
  });

  it('records, reads and clears a shared fetch failure (0600, next to the entry)', async () => {
    const cache = openFileCache(dir);
    cache.lockPath('a.example'); // creates the directory
    expect(cache.readFailure('a.example')).toBeUndefined();
    cache.recordFailure('a.example', {
      at: 1234,
      server: 'https://a.dstack.example',
      code: 'timeout',
      message: 'did not answer',
    });
    cache.recordFailure('a.example', {
      at: 5678,
      server: 'https://a.dstack.example',
      code: 'internal',
      message: 'HTTP 500',
    });
    expect(cache.readFailure('a.example')).toEqual({
      at: 5678,
      server: 'https://a.dstack.example',
      code: 'internal',
      message: 'HTTP 500',
    });
    expect(cache.readFailure('b.example')).toBeUndefined();
    const failureFile = (await readdir(dir)).find((name) => name.endsWith('.fail'))!;
    expect((await stat(join(dir, failureFile))).mode & 0o777).toBe(0o600);
    await writeFile(join(dir, failureFile), '{"at":', { mode: 0o600 });
    expect(cache.readFailure('a.example')).toBeUndefined();
    cache.recordFailure('a.example', undefined);
    cache.recordFailure('a.example', undefined);
    expect((await readdir(dir)).filter((name) => name.endsWith('.fail'))).toEqual([]);
  });

  it('tightens a directory that is too open, and refuses one that is not a directory', async () => {
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    ensurePrivateDir(dir, process.getuid?.() ?? 0);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const file = join(root, 'file');
    await writeFile(file, '');
    expect(() => ensurePrivateDir(file, process.getuid?.() ?? 0)).toThrow();
  });

  it('refuses a directory owned by someone else', async () => {
    // As root: one of ours given away; as anyone else: the root directory, which root owns.
    const uid = process.getuid?.() ?? 0;
    const foreign = isRoot ? dir : '/';
    if (isRoot) {
      await mkdir(dir);
      await chown(dir, 65534, 65534);
    }
    const owner = isRoot ? 65534 : 0;
    expect(() => ensurePrivateDir(foreign, uid)).toThrow(
      `cache directory ${foreign} belongs to uid ${owner}, not to this user (uid ${uid}): remove it or set DOCKER_CREDENTIAL_DSTACK_CACHE_DIR`,
    );
  });
});
