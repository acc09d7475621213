import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServiceClient } from '../../../src/host/client/service-client.ts';
import type { HelperSettings } from '../../../src/host/settings/settings.ts';
import { isCodedError } from '../../../src/common/errors.ts';
import { startContractServer, TEST_INSTANCE_TOKEN, type ContractServer } from '../../helpers/contract-server.ts';
import { makeLoopbackCertificate, startConnectProxy } from '../../helpers/tls-fixtures.ts';

const KEY = 'registry.example';
let dir: string;
let tokenFile: string;
let tls: { key: string; cert: string };
const servers: ContractServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dcd-client-'));
  tokenFile = join(dir, 'token');
  await writeFile(tokenFile, TEST_INSTANCE_TOKEN, { mode: 0o600 });
  tls = await makeLoopbackCertificate(dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});

async function server(options: Parameters<typeof startContractServer>[0] = {}): Promise<ContractServer> {
  const started = await startContractServer({
    credentials: { [KEY]: { username: 'u', secret: 'the-secret', ttlMs: 60_000 } },
    ...options,
  });
  servers.push(started);
  return started;
}

function settings(server: string, extra: Partial<HelperSettings> = {}): HelperSettings {
  return {
    server,
    tokenFile,
    cacheDir: join(dir, 'cache'),
    onError: 'fail',
    timeoutMs: 3000,
    debug: false,
    configPath: '/none',
    ...extra,
  };
}

const fast = { sleep: async () => {}, random: () => 0.5 };

describe('createServiceClient', () => {
  it('POSTs the registry with the bearer token and parses the credential', async () => {
    const s = await server();
    const before = Date.now();
    const credential = await createServiceClient(settings(s.url)).getCredential(KEY);
    if (credential.kind !== 'basic') throw new Error(`expected a basic credential, got ${credential.kind}`);
    expect(credential.username).toBe('u');
    expect(credential.secret.reveal()).toBe('the-secret');
    expect(credential.expiresAt.getTime()).toBeGreaterThanOrEqual(before + 59_000);
    expect(s.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/credentials',
      authorization: `Bearer ${TEST_INSTANCE_TOKEN}`,
    });
  });

  it('keeps a base path of the server URL', async () => {
    const s = await server();
    await expect(createServiceClient(settings(`${s.url}/prefix/`)).getCredential(KEY)).rejects.toThrow(
      /no credential for|HTTP 404/,
    );
    expect(s.requests[0]?.path).toBe('/prefix/v1/credentials');
  });

  it('retries 5xx and network-level failures, never 4xx', async () => {
    const s = await server();
    s.queue({ kind: 'error', status: 500, error: 'internal' }, { kind: 'error', status: 503, error: 'unavailable' });
    expect(await createServiceClient(settings(s.url), fast).getCredential(KEY)).toMatchObject({
      kind: 'basic',
      username: 'u',
    });
    expect(s.credentialRequests()).toBe(3);
    for (const [status, error] of [
      [400, 'bad_request'],
      [401, 'token_expired'],
      [403, 'forbidden'],
      [404, 'not_found'],
    ] as const) {
      const t = await server();
      t.fallback = { kind: 'error', status, error };
      const failure = await createServiceClient(settings(t.url), fast)
        .getCredential(KEY)
        .catch((e: unknown) => e);
      expect(isCodedError(failure, error)).toBe(true);
      expect(t.credentialRequests()).toBe(1);
    }
  });

  it('honours Retry-After as an HTTP date', async () => {
    const s = await server();
    const waits: number[] = [];
    s.queue({
      kind: 'bare',
      status: 429,
      body: 'Too Many Requests',
      retryAfter: new Date(Date.now() + 2000).toUTCString(),
    });
    await createServiceClient(settings(s.url), { sleep: async (ms) => void waits.push(ms) }).getCredential(KEY);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(500);
    expect(waits[0]).toBeLessThanOrEqual(2000);
  });

  it('stops retrying when the budget is spent, with the last failure', async () => {
    const s = await server();
    s.fallback = { kind: 'error', status: 500, error: 'internal' };
    const started = Date.now();
    const failure = await createServiceClient(settings(s.url, { timeoutMs: 400 }))
      .getCredential(KEY)
      .catch((e: unknown) => e);
    expect(isCodedError(failure, 'internal')).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('rejects answers that break the contract', async () => {
    for (const body of ['[]', '{"username":"u"}', '{"username":"u","secret":"s","expires_at":"soon"}']) {
      const s = await server();
      s.fallback = { kind: 'garbage', body };
      const failure = await createServiceClient(settings(s.url))
        .getCredential(KEY)
        .catch((e: unknown) => e);
      expect(isCodedError(failure, 'bad_response')).toBe(true);
    }
  });

  it('reads host-config and health (with the Date header)', async () => {
    const s = await server({
      hostConfig: { mirrors: ['https://mirror.example'], registries: ['https://index.docker.io/v1/'] },
    });
    const client = createServiceClient(settings(s.url));
    expect(await client.getHostConfig()).toEqual({
      mirrors: ['https://mirror.example'],
      registries: ['https://index.docker.io/v1/'],
      endpoint: { enabled: false, upstreams: [] },
    });
    const health = await client.health();
    expect(health.ok).toBe(true);
    expect(Math.abs(health.date!.getTime() - Date.now())).toBeLessThan(5000);
  });

  it('https: refuses an unknown CA (tls), trusts the CA bundle file', async () => {
    const s = await server({ tls });
    const failure = await createServiceClient(settings(s.url))
      .getCredential(KEY)
      .catch((e: unknown) => e);
    expect(isCodedError(failure, 'tls')).toBe(true);
    expect((failure as Error).message).toMatch(/DOCKER_CREDENTIAL_DSTACK_CA_FILE/);
    const credential = await createServiceClient(settings(s.url, { caFile: join(dir, 'cert.pem') })).getCredential(KEY);
    expect(credential).toMatchObject({ kind: 'basic', username: 'u' });
  });

  it('https through HTTPS_PROXY (CONNECT), and straight past it for NO_PROXY hosts', async () => {
    const s = await server({ tls });
    const proxy = await startConnectProxy();
    try {
      const caFile = join(dir, 'cert.pem');
      const via = createServiceClient(settings(s.url, { caFile, proxyEnv: { HTTPS_PROXY: proxy.url } }));
      expect(await via.getCredential(KEY)).toMatchObject({ kind: 'basic', username: 'u' });
      expect(proxy.tunnels).toEqual([`127.0.0.1:${new URL(s.url).port}`]);
      const direct = createServiceClient(
        settings(s.url, { caFile, proxyEnv: { HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' } }),
      );
      expect(await direct.getCredential(KEY)).toMatchObject({ kind: 'basic', username: 'u' });
      expect(proxy.tunnels).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  it('a proxy that is down is reported as unreachable', async () => {
    const s = await server({ tls });
    const failure = await createServiceClient(
      settings(s.url, {
        caFile: join(dir, 'cert.pem'),
        timeoutMs: 1000,
        proxyEnv: { HTTPS_PROXY: 'http://127.0.0.1:1' },
      }),
    )
      .getCredential(KEY)
      .catch((e: unknown) => e);
    expect(isCodedError(failure, 'unreachable')).toBe(true);
  });
});

describe('getHostConfig: the endpoint block', () => {
  it('reads upstreams with their registry key and library setting; absent means disabled with none', async () => {
    const endpoint = {
      enabled: true,
      upstreams: [
        { url: 'https://h.example/proxy', registry: 'h.example', library: 'strip' },
        { url: 'https://m.example', registry: 'm.example' },
      ],
    };
    const s = await server({ hostConfig: { mirrors: [], registries: [], endpoint } });
    expect((await createServiceClient(settings(s.url)).getHostConfig()).endpoint).toEqual({
      enabled: true,
      upstreams: [
        { url: 'https://h.example/proxy', registry: 'h.example', library: 'strip' },
        { url: 'https://m.example', registry: 'm.example', library: 'keep' },
      ],
    });
  });

  it.each([
    [{ enabled: 'yes' }, /"enabled" is not a boolean/],
    [{ upstreams: {} }, /"upstreams" is not a list/],
    [{ upstreams: [{ url: 'https://x' }] }, /an upstream lacks "url" or "registry"/],
    [{ upstreams: [{ url: 'https://x', registry: 'x', library: 'drop' }] }, /"library" is not keep, strip or both/],
  ])('refuses an endpoint block that breaks the contract: %j', async (endpoint, message) => {
    const s = await server({ hostConfig: { mirrors: [], registries: [], endpoint } });
    await expect(createServiceClient(settings(s.url)).getHostConfig()).rejects.toThrow(message);
  });
});
