import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/common/secret.ts';
import { openFileCache } from '../../../src/host/cache/file-cache.ts';
import type { CredentialCache } from '../../../src/host/cache/credential-cache.ts';
import type { ServiceClient } from '../../../src/host/client/service-client.ts';
import type { Diagnostics } from '../../../src/host/credentials/diagnostics.ts';
import { createMirrorCredentials } from '../../../src/host/mirror/forwarding/mirror-credentials.ts';

const silentDiagnostics: Diagnostics = { debug() {}, warn() {} };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mirror-credentials-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function setUp(lifetimeMs: number) {
  let calls = 0;
  let reads = 0;
  const files = openFileCache(join(dir, 'cache'));
  const cache: CredentialCache = {
    ...files,
    read: (key) => {
      reads++;
      return files.read(key);
    },
  };
  const client: ServiceClient = {
    getCredential: async (registry) => ({
      kind: 'basic',
      registry,
      username: `u${++calls}`,
      secret: new Secret('s'),
      expiresAt: new Date(Date.now() + lifetimeMs),
    }),
    getHostConfig: async () => ({ mirrors: [], registries: [], endpoint: { enabled: false, upstreams: [] } }),
    health: async () => ({ ok: true }),
  };
  let now = Date.now();
  const credentials = createMirrorCredentials({
    settings: {
      server: 'http://127.0.0.1:1',
      tokenFile: '/t',
      cacheDir: join(dir, 'cache'),
      onError: 'fail',
      timeoutMs: 1000,
      debug: false,
      configPath: '/c',
    },
    log: silentDiagnostics,
    cache,
    client: async () => client,
    now: () => now,
  });
  return { credentials, calls: () => calls, reads: () => reads, advance: (ms: number) => (now += ms) };
}

describe("the mirror's credentials", () => {
  it('keep an answer in memory for up to 10 s: the requests of one pull read no cache file', async () => {
    const s = setUp(600_000);
    expect(await s.credentials.get('r.example', 'a/b')).toMatchObject({ kind: 'basic', username: 'u1' });
    const readsAfterFirst = s.reads();
    for (let i = 0; i < 5; i++) await s.credentials.get('r.example', 'a/b');
    expect(s.reads()).toBe(readsAfterFirst);
    s.advance(10_001);
    expect(await s.credentials.get('r.example', 'a/b')).toMatchObject({ username: 'u1' }); // from the cache file, still fresh
    expect(s.reads()).toBeGreaterThan(readsAfterFirst);
    expect(s.calls()).toBe(1);
  });

  it('never past the moment the cache would ask the service again', async () => {
    const s = setUp(4_000); // fresh for 2 s
    await s.credentials.get('r.example', 'a/b');
    const reads = s.reads();
    s.advance(2_500);
    await s.credentials.get('r.example', 'a/b');
    expect(s.reads()).toBeGreaterThan(reads);
  });

  it("drop forgets the registry's answers in memory and in the cache", async () => {
    const s = setUp(600_000);
    await s.credentials.get('r.example', 'a/b');
    await s.credentials.get('r.example', 'c/d');
    s.credentials.drop('r.example', 'a/b');
    expect(await s.credentials.get('r.example', 'c/d')).toMatchObject({ username: 'u2' });
    expect(s.calls()).toBe(2);
  });
});
