import { chown, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startContractServer, type ContractServer } from '../../helpers/contract-server.ts';
import { assertBinaryBuilt, makeHelperHome, runHelper, type HelperHome } from '../../helpers/helper-binary.ts';
import { entryFileName } from '../../../src/host/cache/entry-file-name.ts';
import { makeReadOnly } from '../../helpers/read-only-dir.ts';

const HUB = 'https://index.docker.io/v1/';
const SECRET = 'cache-suite-secret-abc';
const cleanups: Array<() => Promise<void>> = [];

beforeAll(() => assertBinaryBuilt());
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setUp(
  options: { socketPath?: (dir: string) => string } = {},
): Promise<{ server: ContractServer; home: HelperHome }> {
  const scratch = await makeHelperHome('unused');
  cleanups.push(() => scratch.cleanup());
  const server = await startContractServer({
    credentials: { [HUB]: { username: 'hub-user', secret: SECRET, ttlMs: 600_000 } },
    socketPath: options.socketPath?.(scratch.dir),
  });
  const home = await makeHelperHome(server.url);
  cleanups.push(
    () => server.close(),
    () => home.cleanup(),
  );
  return { server, home };
}

async function writeEntry(home: HelperHome, entry: Record<string, unknown>, mode = 0o600): Promise<string> {
  await mkdir(home.cacheDir, { recursive: true, mode: 0o700 });
  const path = join(home.cacheDir, entryFileName(HUB));
  await writeFile(
    path,
    JSON.stringify({
      version: 1,
      kind: 'credential',
      registry: HUB,
      username: 'cached-user',
      secret: 'cached-secret',
      ...entry,
    }),
    { mode },
  );
  return path;
}

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const ahead = (ms: number) => new Date(Date.now() + ms).toISOString();

describe('docker-credential-dstack binary: cache', () => {
  it('creates the cache directory 0700 and the entry 0600', async () => {
    const { home } = await setUp();
    expect((await runHelper('get', HUB, home.env(), home.cwd)).exitCode).toBe(0);
    expect((await stat(home.cacheDir)).mode & 0o777).toBe(0o700);
    const files = (await readdir(home.cacheDir)).filter((name) => name.endsWith('.json'));
    expect(files).toEqual([entryFileName(HUB)]);
    expect((await stat(join(home.cacheDir, files[0]!))).mode & 0o777).toBe(0o600);
  });

  it('a fresh entry is served without asking the server', async () => {
    const { server, home } = await setUp();
    await writeEntry(home, { issuedAt: ago(1000), expiresAt: ahead(600_000) });
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(JSON.parse(result.stdout)).toMatchObject({ Username: 'cached-user', Secret: 'cached-secret' });
    expect(server.credentialRequests()).toBe(0);
  });

  it('an expired entry is never served: the server is asked', async () => {
    const { server, home } = await setUp();
    await writeEntry(home, { issuedAt: ago(600_000), expiresAt: ago(1000) });
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(JSON.parse(result.stdout)).toMatchObject({ Username: 'hub-user', Secret: SECRET });
    expect(server.credentialRequests()).toBe(1);
  });

  it('an expired entry with the server down fails instead of serving it', async () => {
    const { server, home } = await setUp();
    await writeEntry(home, { issuedAt: ago(600_000), expiresAt: ago(1000) });
    await server.close();
    const result = await runHelper('get', HUB, home.env({ DOCKER_CREDENTIAL_DSTACK_TIMEOUT: '1s' }), home.cwd);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^cannot reach dstack server/);
    expect(result.stdout).not.toContain('cached-secret');
  });

  it('past half its life the entry is refreshed', async () => {
    const { server, home } = await setUp();
    await writeEntry(home, { issuedAt: ago(400_000), expiresAt: ahead(200_000) });
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(JSON.parse(result.stdout).Secret).toBe(SECRET);
    expect(server.credentialRequests()).toBe(1);
  });

  it('past half its life with the server failing: the unexpired entry is served with a warning', async () => {
    const { server, home } = await setUp();
    await writeEntry(home, { issuedAt: ago(400_000), expiresAt: ahead(200_000) });
    server.fallback = { kind: 'error', status: 503, error: 'unavailable', retryAfter: '60' };
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).Secret).toBe('cached-secret');
    expect(result.stderr).toMatch(
      /warning: refreshing the credential for https:\/\/index\.docker\.io\/v1\/ failed \(dstack server .* is unavailable.*\); serving the cached one/,
    );
  });

  it('a revoked token drops the cached entry instead of serving it', async () => {
    const { server, home } = await setUp();
    const path = await writeEntry(home, { issuedAt: ago(400_000), expiresAt: ahead(200_000) });
    server.fallback = { kind: 'error', status: 401, error: 'token_revoked' };
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/revoked/);
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
  });

  it('a corrupt entry is ignored and replaced', async () => {
    const { server, home } = await setUp();
    await mkdir(home.cacheDir, { recursive: true, mode: 0o700 });
    const path = join(home.cacheDir, entryFileName(HUB));
    await writeFile(path, '{"version":1,"kind":"credential", truncated', { mode: 0o600 });
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).Secret).toBe(SECRET);
    expect(server.credentialRequests()).toBe(1);
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ registry: HUB, username: 'hub-user' });
    expect(result.stderr).toMatch(/is corrupt/);
  });

  it('a corrupt entry seen again and again while waiting for another fetch is reported once', async () => {
    const { server, home } = await setUp();
    await mkdir(home.cacheDir, { recursive: true, mode: 0o700 });
    await writeFile(join(home.cacheDir, entryFileName(HUB)), 'not json', { mode: 0o600 });
    // a live holder (this test process) that never finishes: the get waits the budget out, polling
    await writeFile(
      join(home.cacheDir, entryFileName(HUB).replace('.json', '.lock')),
      `${process.pid} ${Date.now()}\n`,
      { mode: 0o600 },
    );
    const result = await runHelper('get', HUB, home.env({ DOCKER_CREDENTIAL_DSTACK_TIMEOUT: '500' }), home.cwd);
    expect(JSON.parse(result.stdout).Secret).toBe(SECRET);
    expect(result.stderr).toMatch(/waited 2500 ms for another docker-credential-dstack/);
    expect(result.stderr.match(/is corrupt/g)).toHaveLength(1);
    expect(server.credentialRequests()).toBe(1);
  });

  it('an entry readable by others or owned by someone else is not trusted', async () => {
    const { server, home } = await setUp();
    const path = await writeEntry(home, { issuedAt: ago(1000), expiresAt: ahead(600_000) }, 0o644);
    const open = await runHelper('get', HUB, home.env(), home.cwd);
    expect(JSON.parse(open.stdout).Secret).toBe(SECRET);
    expect(server.credentialRequests()).toBe(1);
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    if (process.getuid?.() === 0) {
      await writeEntry(home, { issuedAt: ago(1000), expiresAt: ahead(600_000) });
      await chown(path, 65534, 65534);
      const foreign = await runHelper('get', HUB, home.env(), home.cwd);
      expect(JSON.parse(foreign.stdout).Secret).toBe(SECRET);
      expect(foreign.stderr).toMatch(/belongs to uid 65534/);
      expect(server.credentialRequests()).toBe(2);
      expect((await stat(path)).uid).toBe(0);
    }
  });

  it('a cache directory owned by someone else is not used at all', async () => {
    if (process.getuid?.() !== 0) return;
    const { server, home } = await setUp();
    await mkdir(home.cacheDir, { mode: 0o777 });
    await chown(home.cacheDir, 65534, 65534);
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/not caching credentials: cache directory .* belongs to uid 65534/);
    expect(await readdir(home.cacheDir)).toEqual([]);
    expect(server.credentialRequests()).toBe(1);
  });

  it('20 concurrent gets make exactly one server request', async () => {
    const { server, home } = await setUp();
    server.fallback = { kind: 'delay', ms: 300 };
    const results = await Promise.all(Array.from({ length: 20 }, () => runHelper('get', HUB, home.env(), home.cwd)));
    for (const result of results) {
      expect(result.exitCode).toBe(0);
      expect(JSON.parse(result.stdout).Secret).toBe(SECRET);
    }
    expect(server.credentialRequests()).toBe(1);
    expect((await readdir(home.cacheDir)).filter((name) => name.endsWith('.lock'))).toEqual([]);
  });

  it('20 concurrent gets against a failing server: one process asks, the others share its failure', async () => {
    const { server, home } = await setUp();
    server.fallback = { kind: 'error', status: 500, error: 'internal', message: 'database down' };
    const results = await Promise.all(Array.from({ length: 20 }, () => runHelper('get', HUB, home.env(), home.cwd)));
    for (const result of results) {
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toMatch(
        /^dstack server http:\/\/127\.0\.0\.1:\d+ failed with HTTP 500 \(internal error after \d attempts\): database down\n$/,
      );
    }
    // one process's attempts (at most 4), not twenty processes' worth
    expect(server.credentialRequests()).toBeLessThanOrEqual(4);
    // a get that starts after the failure asks again
    server.fallback = { kind: 'ok' };
    const later = await runHelper('get', HUB, home.env(), home.cwd);
    expect(JSON.parse(later.stdout).Secret).toBe(SECRET);
  });

  it('20 concurrent gets with a token the server refuses: one request, the refusal for all', async () => {
    const { server, home } = await setUp();
    await writeFile(home.tokenFile, 'a-token-the-server-refuses', { mode: 0o600 });
    server.fallback = { kind: 'delay', ms: 300 };
    const results = await Promise.all(Array.from({ length: 20 }, () => runHelper('get', HUB, home.env(), home.cwd)));
    for (const result of results) {
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toMatch(
        /^instance token rejected by http:\/\/127\.0\.0\.1:\d+ \(invalid token\): bad signature; ask the dstack server for a new instance token/,
      );
    }
    expect(server.credentialRequests()).toBe(1);
  });

  it('20 concurrent gets against a server that never answers: one request, one timeout for all', async () => {
    const { server, home } = await setUp();
    server.fallback = { kind: 'hang' };
    const started = Date.now();
    // A get that starts after the failure was shared asks afresh (by design), so the budget is
    // longer than 20 binaries take to start on a loaded CI machine (1 s was seen to be too short).
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        runHelper('get', HUB, home.env({ DOCKER_CREDENTIAL_DSTACK_TIMEOUT: '2s' }), home.cwd),
      ),
    );
    for (const result of results)
      expect(result.stdout).toBe(
        `dstack server ${server.url} did not answer within 2 s (DOCKER_CREDENTIAL_DSTACK_TIMEOUT)\n`,
      );
    expect(server.credentialRequests()).toBe(1);
    expect(Date.now() - started).toBeLessThan(9000);
  });

  it('a lock left by a crashed helper does not block the next get', async () => {
    const { server, home } = await setUp();
    await mkdir(home.cacheDir, { recursive: true, mode: 0o700 });
    const lock = join(home.cacheDir, entryFileName(HUB).replace('.json', '.lock'));
    await writeFile(lock, `999999999 ${Date.now()}\n`, { mode: 0o600 });
    const started = Date.now();
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(server.credentialRequests()).toBe(1);
    expect(result.stderr).toMatch(/broke a stale cache lock: .* held by process 999999999, which is gone/);
  });

  it('talks HTTP over a unix socket (unix:/path)', async () => {
    const { server, home } = await setUp({ socketPath: (dir) => join(dir, 'service.sock') });
    expect(server.url).toMatch(/^unix:\//);
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).Secret).toBe(SECRET);
    expect(server.credentialRequests()).toBe(1);
  });

  it('a unix socket that is not there is reported as such', async () => {
    const { home } = await setUp();
    const result = await runHelper(
      'get',
      HUB,
      home.env({
        DOCKER_CREDENTIAL_DSTACK_SERVER: `unix:${home.dir}/missing.sock`,
        DOCKER_CREDENTIAL_DSTACK_TIMEOUT: '1s',
      }),
      home.cwd,
    );
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^cannot reach dstack server unix:.*missing\.sock \(no socket there\)/);
  });
});

describe('docker-credential-dstack binary: a cache directory it cannot write', () => {
  it('a read-only cache directory: get still answers from the server, with a warning', async () => {
    const { server, home } = await setUp();
    await mkdir(home.cacheDir, { recursive: true, mode: 0o700 });
    const unlock = await makeReadOnly(home.cacheDir);
    try {
      const result = await runHelper('get', HUB, home.env(), home.cwd);
      expect(result.stdout).toBe(`${JSON.stringify({ ServerURL: HUB, Username: 'hub-user', Secret: SECRET })}\n`);
      expect(result.exitCode).toBe(0);
      expect(result.stderr).toMatch(/warning: /);
      expect(result.stderr).not.toContain(SECRET);
      expect(server.credentialRequests()).toBe(1);
    } finally {
      await unlock();
    }
    expect(await readdir(home.cacheDir)).toEqual([]);
  });

  it('erase in a read-only cache directory names the entry and what to do, exit 1', async () => {
    const { home } = await setUp();
    const path = await writeEntry(home, { issuedAt: ago(1000), expiresAt: ahead(600_000) });
    const unlock = await makeReadOnly(home.cacheDir);
    try {
      const result = await runHelper('erase', HUB, home.env(), home.cwd);
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toBe(
        `cannot remove cache entry ${path} (${process.getuid?.() === 0 ? 'EPERM' : 'EACCES'}): make ${home.cacheDir} writable for this user or set DOCKER_CREDENTIAL_DSTACK_CACHE_DIR\n`,
      );
    } finally {
      await unlock();
    }
  });
});
