import { mkdtemp, readdir, rename, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRevocationStore } from '../../../src/service/store/open-revocation-store.ts';
import { revocationStoreSuite } from '../../helpers/revocation-store-suite.ts';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sqlite-store-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('SQLite revocation store (embedded default)', () => {
  revocationStoreSuite({ open: () => openRevocationStore({ dataDir }) });

  it('lives in <dataDir>/revocations.sqlite, 0600, in WAL mode, creating the data directory', async () => {
    const fresh = join(dataDir, 'nested', 'data');
    const store = await openRevocationStore({ dataDir: fresh });
    await store.revoke('i-1', new Date());
    expect((await stat(join(fresh, 'revocations.sqlite'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(fresh, 'revocations.sqlite-wal'))).isFile()).toBe(true);
    await store.close();
  });

  it('a revocation written by another process (the revoke command) is seen by an open store (serve)', async () => {
    const serving = await openRevocationStore({ dataDir });
    expect(await serving.revokedAt('i-cross-process')).toBeUndefined();
    const module = pathToFileURL(resolve('src/service/store/open-revocation-store.ts')).href;
    const script = `
      const { openRevocationStore } = await import(${JSON.stringify(module)});
      const store = await openRevocationStore({ dataDir: ${JSON.stringify(dataDir)} });
      await store.revoke('i-cross-process', new Date('2026-11-26T21:00:00.000Z'));
      await store.close();
    `;
    await execa(process.execPath, ['--input-type=module', '-e', script]);
    expect((await serving.revokedAt('i-cross-process'))?.toISOString()).toBe('2026-11-26T21:00:00.000Z');
    await serving.close();
  });

  it('a file put in place under an open store: lookups and writes fail closed naming it, what it held is merged at the next opening', async () => {
    const dir = join(dataDir, 'replaced');
    const serving = await openRevocationStore({ dataDir: dir });
    await serving.revoke('i-held', new Date('2026-11-26T21:00:00.000Z'));
    const other = join(dataDir, 'replaced-other');
    const elsewhere = await openRevocationStore({ dataDir: other });
    await elsewhere.revoke('i-other', new Date('2026-11-26T22:00:00.000Z'));
    await elsewhere.close();
    await rename(join(other, 'revocations.sqlite'), join(dir, 'revocations.sqlite'));

    const failure = {
      code: 'unavailable',
      message: expect.stringMatching(
        /was replaced by another file \(it opened inode \d+; the path now names inode \d+\) while this process had it open.*restart it; the revocations it held are kept in \S+\.held-\d+-\d+/,
      ),
    };
    await expect(serving.revokedAt('i-held')).rejects.toMatchObject(failure);
    await expect(serving.revoke('i-new', new Date())).rejects.toMatchObject(failure);
    await serving.close();

    await expect(openRevocationStore({ dataDir: dir, embedded: { foreignFile: 'refuse' } })).rejects.toMatchObject({
      code: 'store_replaced',
      message: expect.stringContaining('is not the file that was created there'),
    });
    const notices: string[] = [];
    const restarted = await openRevocationStore({
      dataDir: dir,
      embedded: { foreignFile: 'adopt', notice: (line) => notices.push(line) },
    });
    expect(notices).toEqual([
      expect.stringContaining('adopting it'),
      expect.stringMatching(/merged 1 revocations from \S+\.held-/),
    ]);
    expect((await restarted.revokedAt('i-held'))?.toISOString()).toBe('2026-11-26T21:00:00.000Z');
    expect((await restarted.revokedAt('i-other'))?.toISOString()).toBe('2026-11-26T22:00:00.000Z');
    await restarted.close();
    expect((await readdir(dir)).filter((name) => name.includes('.held-'))).toEqual([]);
  });

  it('a data directory that cannot hold the database is a coded error naming the file', async () => {
    const blocker = join(dataDir, 'not-a-dir');
    await writeFile(blocker, 'x');
    await expect(openRevocationStore({ dataDir: blocker })).rejects.toMatchObject({
      code: 'store_unavailable',
      message: expect.stringContaining(join(blocker, 'revocations.sqlite')),
    });
    await mkdir(join(dataDir, 'ok'));
  });

  it('rejects a database URL that is not PostgreSQL, without showing its user info', async () => {
    const error = await openRevocationStore({ dataDir, databaseUrl: 'mysql://root:hunter2@db/x' }).catch((e) => e);
    expect(error).toMatchObject({ code: 'config_invalid' });
    expect(error.message).not.toMatch(/hunter2|root/);
    expect(error.message).toContain('mysql://***@db/x');
  });
});
