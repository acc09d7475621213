import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ABSENT_TTL_MS, resolveCredential } from '../../../src/host/credentials/resolve-credential.ts';
import type { HelperSettings } from '../../../src/host/settings/settings.ts';
import type { Diagnostics } from '../../../src/host/credentials/diagnostics.ts';
import type { ServiceClient, ServiceCredential } from '../../../src/host/client/service-client.ts';
import { openFileCache } from '../../../src/host/cache/file-cache.ts';
import { CodedError } from '../../../src/common/errors.ts';
import { Secret } from '../../../src/common/secret.ts';
import type { HostCredential } from '../../../src/host/credentials/host-credential.ts';
import { NoCredentialError } from '../../../src/host/client/service-errors.ts';

const basic = (credential: HostCredential | undefined) => (credential?.kind === 'basic' ? credential : undefined);

const KEY = 'registry.example';
let dir: string;
let clock: Date;
let lines: string[];
const diagnostics: Diagnostics = { debug: (m) => lines.push(`debug: ${m}`), warn: (m) => lines.push(`warn: ${m}`) };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dcd-resolve-'));
  clock = new Date('2026-11-26T20:00:00.000Z');
  lines = [];
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function settings(extra: Partial<HelperSettings> = {}): HelperSettings {
  return {
    server: 'https://dstack.example',
    tokenFile: '/t',
    cacheDir: join(dir, 'cache'),
    onError: 'fail',
    timeoutMs: 1000,
    debug: true,
    configPath: '/c',
    ...extra,
  };
}

// A scripted server: each call takes the next answer (a credential lifetime in ms or an error).
function scripted(...answers: Array<number | CodedError>): {
  client: () => Promise<ServiceClient>;
  calls: () => number;
} {
  let calls = 0;
  const client: ServiceClient = {
    async getCredential(registryKey): Promise<ServiceCredential> {
      const answer = answers[Math.min(calls, answers.length - 1)]!;
      calls++;
      if (answer instanceof CodedError) throw answer;
      return {
        kind: 'basic',
        registry: registryKey,
        username: `user-${calls}`,
        secret: new Secret(`secret-${calls}`),
        expiresAt: new Date(clock.getTime() + answer),
      };
    },
    getHostConfig: async () => ({ mirrors: [], registries: [], endpoint: { enabled: false, upstreams: [] } }),
    health: async () => ({ ok: true }),
  };
  return { client: async () => client, calls: () => calls };
}

const down = () => new CodedError('unreachable', 'cannot reach dstack server https://dstack.example (ECONNREFUSED)');
const deps = (server: ReturnType<typeof scripted>) => ({
  now: () => clock,
  client: server.client,
  cache: openFileCache(join(dir, 'cache')),
});
const advance = (ms: number) => (clock = new Date(clock.getTime() + ms));

describe('resolveCredential (injected clock)', () => {
  it('asks once, then serves from the cache until half-life, then refreshes', async () => {
    const server = scripted(600_000, 600_000);
    const d = deps(server);
    expect(basic(await resolveCredential(KEY, settings(), diagnostics, d))?.username).toBe('user-1');
    advance(299_000);
    expect(basic(await resolveCredential(KEY, settings(), diagnostics, d))?.username).toBe('user-1');
    expect(server.calls()).toBe(1);
    advance(2000); // past 300 s, half of 600 s
    expect(basic(await resolveCredential(KEY, settings(), diagnostics, d))?.username).toBe('user-2');
    expect(server.calls()).toBe(2);
    expect(lines.filter((l) => /^debug: cache (hit|miss)/.test(l))).toEqual([
      `debug: cache miss for ${KEY}: requesting https://dstack.example`,
      `debug: cache hit for ${KEY}`,
      `debug: cache miss for ${KEY}: requesting https://dstack.example (cached entry past its refresh point)`,
    ]);
    expect(lines.join('\n')).not.toMatch(/secret-\d/);
  });

  it('a failed refresh serves the unexpired entry with a warning; an expired one never', async () => {
    const server = scripted(600_000, down());
    const d = deps(server);
    await resolveCredential(KEY, settings(), diagnostics, d);
    advance(400_000);
    expect(basic(await resolveCredential(KEY, settings(), diagnostics, d))?.secret.reveal()).toBe('secret-1');
    expect(
      lines.some((l) =>
        /^warn: refreshing the credential for registry\.example failed .*serving the cached one/.test(l),
      ),
    ).toBe(true);
    advance(200_000); // now exactly at expires_at
    await expect(resolveCredential(KEY, settings(), diagnostics, d)).rejects.toThrow(/cannot reach/);
  });

  it('failure policy anonymous: no credential, with a warning', async () => {
    const server = scripted(down());
    expect(await resolveCredential(KEY, settings({ onError: 'anonymous' }), diagnostics, deps(server))).toBeUndefined();
    expect(lines.some((l) => l.startsWith('warn: cannot reach dstack server') && l.includes('anonymously'))).toBe(true);
  });

  it('auth errors are never hidden: not by the policy, not by a cached entry', async () => {
    const server = scripted(
      600_000,
      new CodedError('token_revoked', 'instance token revoked by https://dstack.example'),
    );
    const d = deps(server);
    await resolveCredential(KEY, settings(), diagnostics, d);
    advance(400_000);
    await expect(resolveCredential(KEY, settings({ onError: 'anonymous' }), diagnostics, d)).rejects.toThrow(/revoked/);
    expect(d.cache.read(KEY)).toBeUndefined();
  });

  it('"no credential" is remembered for a short while only', async () => {
    const server = scripted(new CodedError('not_found', 'none'), 600_000);
    const d = deps(server);
    expect(await resolveCredential(KEY, settings(), diagnostics, d)).toBeUndefined();
    expect(await resolveCredential(KEY, settings(), diagnostics, d)).toBeUndefined();
    expect(server.calls()).toBe(1);
    advance(ABSENT_TTL_MS);
    expect(basic(await resolveCredential(KEY, settings(), diagnostics, d))?.username).toBe('user-2');
  });

  it('a credential already expired by this clock is returned but not cached', async () => {
    const server = scripted(-1000, 600_000);
    const d = deps(server);
    expect(basic(await resolveCredential(KEY, settings(), diagnostics, d))?.username).toBe('user-1');
    expect(lines.some((l) => l.includes('already expired by this host'))).toBe(true);
    expect(d.cache.read(KEY)).toBeUndefined();
  });

  it.each([
    ['behind', -86_400_000],
    ['ahead of', 86_400_000],
  ])(
    "a host clock a day %s the service's: the entry lives the service's 10 minutes from receipt, capped",
    async (direction, offset) => {
      // The service's clock is `clock + offset`; its Date header says so.
      const serviceNow = () => new Date(clock.getTime() - offset);
      let calls = 0;
      const client: ServiceClient = {
        async getCredential(registryKey) {
          calls++;
          return {
            kind: 'basic',
            registry: registryKey,
            username: `user-${calls}`,
            secret: new Secret('s'),
            expiresAt: new Date(serviceNow().getTime() + 600_000),
            serviceDate: serviceNow(),
          };
        },
        getHostConfig: async () => ({ mirrors: [], registries: [], endpoint: { enabled: false, upstreams: [] } }),
        health: async () => ({ ok: true }),
      };
      const d = { now: () => clock, client: async () => client, cache: openFileCache(join(dir, 'cache')) };
      expect(basic(await resolveCredential(KEY, settings(), diagnostics, d))?.username).toBe('user-1');
      const entry = d.cache.read(KEY)!;
      expect(entry.issuedAt).toEqual(clock);
      expect(entry.expiresAt.getTime() - clock.getTime()).toBe(600_000);
      expect(lines).toContain(
        `warn: this host's clock is about 24 h ${direction} the dstack server's (its Date header): credential lifetimes are counted on the server's clock; set this host's time (NTP)`,
      );
      advance(299_999);
      expect(basic(await resolveCredential(KEY, settings(), diagnostics, d))?.username).toBe('user-1');
      advance(1); // the refresh point, half of the service's 10 minutes
      expect(basic(await resolveCredential(KEY, settings(), diagnostics, d))?.username).toBe('user-2');
    },
  );

  it('works without a usable cache directory (warns, asks every time)', async () => {
    const server = scripted(600_000);
    const s = settings({ cacheDir: '/proc/definitely-not-writable/cache' });
    expect(
      basic(await resolveCredential(KEY, s, diagnostics, { now: () => clock, client: server.client }))?.username,
    ).toBe('user-1');
    expect(
      basic(await resolveCredential(KEY, s, diagnostics, { now: () => clock, client: server.client }))?.username,
    ).toBe('user-2');
    expect(lines.some((l) => l.startsWith('warn: not caching credentials'))).toBe(true);
  });

  // Process A holds the lock, its request pending; process B (same cache directory, the given
  // server) waits for it; then A's server fails. Returns both outcomes and B's server.
  async function failWhileBWaits(serverOfB: string) {
    let failA!: (error: CodedError) => void;
    let askedA!: () => void;
    const aAsked = new Promise<void>((resolve) => (askedA = resolve));
    const clientA: ServiceClient = {
      getCredential: () =>
        new Promise((_, reject) => {
          failA = reject;
          askedA();
        }),
      getHostConfig: async () => ({ mirrors: [], registries: [], endpoint: { enabled: false, upstreams: [] } }),
      health: async () => ({ ok: true }),
    };
    const serverB = scripted(600_000);
    let bPolls = 0;
    let bWaiting!: () => void;
    const bIsWaiting = new Promise<void>((resolve) => (bWaiting = resolve));
    const cache = openFileCache(join(dir, 'cache'));
    // B's view of the cache tells the test when B is polling A's lock.
    const cacheB = {
      ...cache,
      readFailure: (key: string) => {
        if (++bPolls === 2) bWaiting();
        return cache.readFailure(key);
      },
    };
    const a = resolveCredential(KEY, settings(), diagnostics, {
      now: () => clock,
      cache,
      client: async () => clientA,
    }).catch((error: Error) => error);
    await aAsked;
    const b = resolveCredential(KEY, settings({ server: serverOfB, timeoutMs: 60_000 }), diagnostics, {
      now: () => clock,
      cache: cacheB,
      client: serverB.client,
    }).catch((error: Error) => error);
    await bIsWaiting;
    failA(new CodedError('bad_response', 'dstack server https://dstack.example sent an invalid answer'));
    return { a: await a, b: await b, serverB, cache };
  }

  // The cause of the flaky revocation-window test: a refusal recorded by this process's
  // previous call, in the same millisecond, was taken for a failure another process had just
  // shared, and the service was never asked again. Date.now() is pinned so the two calls share it.
  it('its own earlier failure, recorded in the same millisecond, does not stop the next call from asking', async () => {
    const refused = () => new CodedError('token_revoked', 'dstack server refused the instance token: revoked');
    const server = scripted(refused(), refused());
    const d = deps(server);
    const realNow = Date.now;
    const pinned = realNow();
    Date.now = () => pinned;
    try {
      await expect(resolveCredential(KEY, settings(), diagnostics, d)).rejects.toMatchObject({ code: 'token_revoked' });
      await expect(resolveCredential(KEY, settings(), diagnostics, d)).rejects.toMatchObject({ code: 'token_revoked' });
    } finally {
      Date.now = realNow;
    }
    expect(server.calls()).toBe(2);
  });

  it('a failure shared by a process talking to another server is not served to this one', async () => {
    const { a, b, serverB, cache } = await failWhileBWaits('https://other.dstack.example');
    expect(a).toMatchObject({ code: 'bad_response' });
    expect(b).toMatchObject({ username: 'user-1' });
    expect(serverB.calls()).toBe(1);
    expect(cache.readFailure(KEY)).toBeUndefined(); // B's success clears the record
  });

  it('a failure shared by a process talking to the same server is taken by the waiter', async () => {
    const { a, b, serverB } = await failWhileBWaits('https://dstack.example');
    expect(a).toMatchObject({ code: 'bad_response' });
    expect(b).toMatchObject({ code: 'bad_response' });
    expect(serverB.calls()).toBe(0);
  });

  it('an expires_at beyond the service maximum is cached for the maximum only', async () => {
    const server = scripted(10 * 365 * 86_400_000);
    const d = deps(server);
    await resolveCredential(KEY, settings(), diagnostics, d);
    const entry = d.cache.read(KEY)!;
    expect(entry.expiresAt.getTime() - entry.issuedAt.getTime()).toBe(86_400_000);
    advance(43_200_000 - 1); // just before half a day: still fresh
    await resolveCredential(KEY, settings(), diagnostics, d);
    expect(server.calls()).toBe(1);
    advance(1);
    await resolveCredential(KEY, settings(), diagnostics, d);
    expect(server.calls()).toBe(2);
  });

  it('freshUntil of an entry file written with a far expiry is half the capped life, not half the written one', async () => {
    const server = scripted(600_000);
    const d = deps(server);
    await d.cache.write({
      kind: 'credential',
      registry: KEY,
      username: 'u',
      secret: new Secret('s'),
      issuedAt: clock,
      expiresAt: new Date('2999-01-01T00:00:00.000Z'),
    });
    const answer = basic(await resolveCredential(KEY, settings(), diagnostics, d));
    expect(server.calls()).toBe(0);
    expect(answer?.freshUntil?.toISOString()).toBe(new Date(clock.getTime() + 43_200_000).toISOString());
  });
});

// A broker-aware server: bearer answers for repositories of BROKERED, basic otherwise; every
// request recorded as [registry, repository].
const BROKERED = 'broker.example';
function repositoryServer(options: { noReason?: boolean } = {}) {
  const asked: Array<[string, string | undefined]> = [];
  const client: ServiceClient = {
    async getCredential(registryKey, repository): Promise<ServiceCredential> {
      asked.push([registryKey, repository]);
      const expiresAt = new Date(clock.getTime() + 300_000);
      if (registryKey === BROKERED) {
        if (repository === undefined)
          throw new NoCredentialError(
            `dstack server https://dstack.example has no credential for ${registryKey}`,
            options.noReason
              ? 'no credential for registry broker.example; pull anonymously'
              : `registry ${registryKey} issues repository-scoped tokens only; pull through the mirror endpoint`,
          );
        return {
          kind: 'bearer',
          registry: registryKey,
          repository,
          token: new Secret(`token-for-${repository}`),
          expiresAt,
        };
      }
      return { kind: 'basic', registry: registryKey, username: 'u', secret: new Secret('s'), expiresAt };
    },
    getHostConfig: async () => ({ mirrors: [], registries: [], endpoint: { enabled: false, upstreams: [] } }),
    health: async () => ({ ok: true }),
  };
  return { client: async () => client, asked };
}

describe('resolveCredential with a repository', () => {
  it("a basic answer is the registry's: cached under the registry key, shared with get and other repositories", async () => {
    const server = repositoryServer();
    const cache = openFileCache(join(dir, 'cache'));
    const d = { now: () => clock, client: server.client, cache };
    expect(
      await resolveCredential({ registry: KEY, repository: 'library/python' }, settings(), diagnostics, d),
    ).toMatchObject({ kind: 'basic', username: 'u' });
    expect(
      await resolveCredential({ registry: KEY, repository: 'library/redis' }, settings(), diagnostics, d),
    ).toMatchObject({ kind: 'basic' });
    expect(await resolveCredential(KEY, settings(), diagnostics, d)).toMatchObject({ kind: 'basic' });
    expect(server.asked).toEqual([[KEY, 'library/python']]);
    expect(cache.read(KEY)).toMatchObject({ kind: 'credential' });
  });

  it("a bearer answer is one repository's: cached under its own key, asked again for another repository", async () => {
    const server = repositoryServer();
    const cache = openFileCache(join(dir, 'cache'));
    const brokered = new Set<string>();
    const d = { now: () => clock, client: server.client, cache, brokered };
    const first = await resolveCredential(
      { registry: BROKERED, repository: 'library/python' },
      settings(),
      diagnostics,
      d,
    );
    expect(first?.kind === 'bearer' && [first.repository, first.token.reveal()]).toEqual([
      'library/python',
      'token-for-library/python',
    ]);
    expect(brokered.has(BROKERED)).toBe(true);
    const again = await resolveCredential(
      { registry: BROKERED, repository: 'library/python' },
      settings(),
      diagnostics,
      d,
    );
    expect(again?.kind === 'bearer' && again.token.reveal()).toBe('token-for-library/python');
    const other = await resolveCredential(
      { registry: BROKERED, repository: 'library/redis' },
      settings(),
      diagnostics,
      d,
    );
    expect(other?.kind === 'bearer' && other.token.reveal()).toBe('token-for-library/redis');
    expect(server.asked).toEqual([
      [BROKERED, 'library/python'],
      [BROKERED, 'library/redis'],
    ]);
    expect(cache.read(BROKERED)).toBeUndefined();
    expect(cache.read(`${BROKERED} library/python`)).toMatchObject({ kind: 'bearer', repository: 'library/python' });
    expect(lines.join('\n')).not.toContain('token-for-');
  });

  it("get of a brokered registry: no credential, and the service's reason as a warning (also from the cache)", async () => {
    const server = repositoryServer();
    const d = { now: () => clock, client: server.client, cache: openFileCache(join(dir, 'cache')) };
    expect(await resolveCredential(BROKERED, settings(), diagnostics, d)).toBeUndefined();
    expect(lines.filter((l) => l.startsWith('warn:'))).toEqual([
      `warn: https://dstack.example has no credential for ${BROKERED}: registry ${BROKERED} issues repository-scoped tokens only; pull through the mirror endpoint`,
    ]);
    expect(await resolveCredential(BROKERED, settings(), diagnostics, d)).toBeUndefined();
    expect(server.asked).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('warn:'))).toHaveLength(2);
    // "none" for the registry does not answer a repository request: a brokered registry says "none" without one
    expect(
      await resolveCredential({ registry: BROKERED, repository: 'library/python' }, settings(), diagnostics, d),
    ).toMatchObject({ kind: 'bearer' });
  });

  it('the ordinary "no credential" stays a debug line', async () => {
    const server = repositoryServer({ noReason: true });
    const d = { now: () => clock, client: server.client, cache: openFileCache(join(dir, 'cache')) };
    expect(await resolveCredential(BROKERED, settings(), diagnostics, d)).toBeUndefined();
    expect(lines.filter((l) => l.startsWith('warn:'))).toEqual([]);
  });

  it("a refusal erases the registry's and the repository's entries", async () => {
    const cache = openFileCache(join(dir, 'cache'));
    const server = scripted(
      300_000,
      new CodedError('token_revoked', 'instance token revoked by https://dstack.example'),
    );
    const d = { now: () => clock, client: server.client, cache };
    await resolveCredential({ registry: KEY, repository: 'a/b' }, settings(), diagnostics, d);
    await cache.write({
      kind: 'bearer',
      registry: KEY,
      repository: 'a/b',
      token: new Secret('t'),
      issuedAt: clock,
      expiresAt: new Date(clock.getTime() + 300_000),
    });
    advance(200_000);
    await expect(resolveCredential({ registry: KEY, repository: 'a/b' }, settings(), diagnostics, d)).rejects.toThrow(
      /revoked/,
    );
    expect(cache.read(KEY)).toBeUndefined();
    expect(cache.read(`${KEY} a/b`)).toBeUndefined();
  });

  it('a bearer answer for another repository than asked is refused', async () => {
    const client: ServiceClient = {
      getCredential: async (registry) => ({
        kind: 'bearer',
        registry,
        repository: 'other/repo',
        token: new Secret('t'),
        expiresAt: new Date(clock.getTime() + 60_000),
      }),
      getHostConfig: async () => ({ mirrors: [], registries: [], endpoint: { enabled: false, upstreams: [] } }),
      health: async () => ({ ok: true }),
    };
    const d = { now: () => clock, client: async () => client, cache: openFileCache(join(dir, 'cache')) };
    await expect(resolveCredential(KEY, settings(), diagnostics, d)).rejects.toThrow(
      /answered a token for repository "other\/repo" when asked for registry\.example/,
    );
  });
});
