import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startService, type Service } from '../../../../helpers/built-service.ts';
import { dockerRegistryAvailable } from '../../../../helpers/registry.ts';
import { realmHostOf, startBrokeredRegistry, type BrokeredRegistry } from '../../../../helpers/brokered-registry.ts';
import { FAILURE_BODY_MARKER } from '../../../../fixtures/token-server/token-server.ts';

// The broker source in the built service binary, against a real docker-registry 2.8 whose
// token realm is the independent token server fixture: the service trades the password it
// keeps for a repository pull token, and the registry accepts that token.
const available = dockerRegistryAvailable();
const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';

let dir: string;
let upstream: BrokeredRegistry;
let service: Service;

interface Answer {
  status: number;
  json: any;
  text: string;
}

async function credentials(token: string, body: Record<string, unknown>): Promise<Answer> {
  const res = await fetch(`${service.url}/v1/credentials`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) };
}

async function manifest(repository: string, tag: string, bearer?: string): Promise<Response> {
  return fetch(`${upstream.registry.url}/v2/${repository}/manifests/${tag}`, {
    headers: { accept: MANIFEST_V2, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
  });
}

// The broker's cache counters for the test registry, from /metrics.
async function cacheCounts(): Promise<Record<'hit' | 'joined' | 'miss', number>> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  const count = (result: string) =>
    Number(
      new RegExp(
        `^dstack_registry_auth_broker_token_cache_total\\{registry="${upstream.registry.host}",result="${result}"\\} (\\d+)$`,
        'm',
      ).exec(text)?.[1] ?? 0,
    );
  return { hit: count('hit'), joined: count('joined'), miss: count('miss') };
}

const scopeRequests = (repository: string) =>
  upstream.tokenServer.requests
    .filter((r) => r.scope === `repository:${repository}:pull`)
    .map(({ at: _at, ...rest }) => rest);

describe.skipIf(!available)('broker source: the service binary against a registry whose realm is not ours', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'broker-service-'));
    upstream = await startBrokeredRegistry({
      dir,
      images: ['library/python:3.14', 'team/app:1', 'fan/in:1', 'post/only:1', 'post/again:1'],
      tokenServer: { mayPull: (_user, repository) => !repository.startsWith('secret/') },
    });
    service = await startService({
      dir: join(dir, 'svc'),
      env: { FLEET_PASSWORD: upstream.password, DSTACK_REGISTRY_AUTH_ADMIN_TOKEN: 'admin-token-for-broker-tests-0123' },
      configFile: {
        registries: [
          {
            registry: upstream.registry.host,
            source: 'broker',
            username: upstream.username,
            passwordEnv: 'FLEET_PASSWORD',
            realms: [realmHostOf(upstream)],
          },
        ],
      },
    });
  });
  afterAll(async () => {
    await service?.stop();
    await upstream?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers a bearer token for the repository that the real registry accepts for a manifest GET', async () => {
    expect((await manifest('library/python', '3.14')).status).toBe(401);
    const token = await service.issueToken({ instance: 'i-1', project: 'main' });
    const before = Date.now();
    const res = await credentials(token, { registry: upstream.registry.host, repository: 'library/python' });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({
      kind: 'bearer',
      registry: upstream.registry.host,
      repository: 'library/python',
      source: 'broker',
    });
    expect(res.json.username).toBeUndefined();
    expect(res.json.secret).toBeUndefined();
    // The realm's real lifetime (300 s here), not one the service made up.
    const expires = Date.parse(res.json.expires_at);
    expect(expires).toBeGreaterThan(before + 290_000);
    expect(expires).toBeLessThan(Date.now() + 301_000);
    const pulled = await manifest('library/python', '3.14', res.json.token);
    expect(pulled.status).toBe(200);
    expect(pulled.headers.get('docker-content-digest')).toBe(
      upstream.images.get('library/python:3.14')!.manifestDigest,
    );
    // Pull only: the token cannot push.
    const push = await fetch(`${upstream.registry.url}/v2/library/python/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${res.json.token}` },
    });
    expect(push.status).toBe(401);
    expect(scopeRequests('library/python')).toEqual([
      {
        method: 'GET',
        user: upstream.username,
        scope: 'repository:library/python:pull',
        service: 'fixture-registry',
        status: 200,
      },
    ]);
    const audit = (await service.audit()).filter((r) => r.event === 'credential' && r.repository === 'library/python');
    expect(audit).toEqual([
      expect.objectContaining({
        outcome: 'granted',
        instance: 'i-1',
        project: 'main',
        registry: upstream.registry.host,
        repository: 'library/python',
        source: 'broker',
      }),
    ]);
  });

  it('serves the cached token to the next request without asking the realm again', async () => {
    const first = await credentials(await service.issueToken({ instance: 'i-2' }), {
      registry: upstream.registry.host,
      repository: 'library/python',
    });
    const again = await credentials(await service.issueToken({ instance: 'i-3' }), {
      registry: upstream.registry.host,
      repository: 'library/python',
    });
    expect(first.status).toBe(200);
    expect(again.json.token).toBe(first.json.token);
    expect(scopeRequests('library/python')).toHaveLength(1);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(
        `dstack_registry_auth_broker_token_cache_total\\{registry="${upstream.registry.host}",result="hit"\\} [1-9]`,
      ),
    );
    expect(metrics).toMatch(
      new RegExp(
        `dstack_registry_auth_broker_token_requests_total\\{outcome="granted",registry="${upstream.registry.host}"\\} 1\\b`,
      ),
    );
  });

  it('turns 20 concurrent requests for one repository from several instances into one realm request', async () => {
    const tokens = await Promise.all(['i-a', 'i-b', 'i-c', 'i-d'].map((instance) => service.issueToken({ instance })));
    const before = await cacheCounts();
    // Hold the realm's answer until the first request arrives, so the others find it in flight.
    let open!: () => void;
    upstream.tokenServer.gate = new Promise<void>((resolve) => (open = resolve));
    const receivedBefore = upstream.tokenServer.received;
    const answers = Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        credentials(tokens[i % tokens.length]!, { registry: upstream.registry.host, repository: 'fan/in' }),
      ),
    );
    while (upstream.tokenServer.received === receivedBefore) await new Promise((resolve) => setTimeout(resolve, 10));
    open();
    delete upstream.tokenServer.gate;
    const all = await answers;
    expect(all.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(new Set(all.map((a) => a.json.token)).size).toBe(1);
    expect(scopeRequests('fan/in')).toHaveLength(1);
    expect((await manifest('fan/in', '1', all[0]!.json.token)).status).toBe(200);
    const after = await cacheCounts();
    expect(after.miss - before.miss).toBe(1);
    expect(after.joined + after.hit - before.joined - before.hit).toBe(19);
  });

  it('answers 404 naming the reason when the request names no repository (an old helper, or get), never the password', async () => {
    const res = await credentials(await service.issueToken({ instance: 'i-old' }), {
      registry: upstream.registry.host,
    });
    expect(res.status).toBe(404);
    expect(res.json.error).toBe('not_found');
    expect(res.json.message).toMatch(/broker source.*one repository at a time.*"repository"/);
    expect(res.text).not.toContain(upstream.password);
  });

  it('refuses a repository name outside the distribution grammar with 400', async () => {
    const res = await credentials(await service.issueToken({ instance: 'i-bad' }), {
      registry: upstream.registry.host,
      repository: 'Library/Python:3.14',
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      error: 'bad_request',
      message: expect.stringMatching(
        /^invalid repository name "Library\/Python:3.14": a repository name is lower-case/,
      ),
    });
  });

  it('answers 404 when the realm grants the account no pull on the repository, and does not cache that', async () => {
    const token = await service.issueToken({ instance: 'i-secret' });
    for (let i = 0; i < 2; i++) {
      const res = await credentials(token, { registry: upstream.registry.host, repository: 'secret/thing' });
      expect(res.status).toBe(404);
      expect(res.json.message).toContain('no pull access to repository secret/thing');
    }
    expect(scopeRequests('secret/thing')).toHaveLength(2);
  });

  it('answers 503 when the realm fails, after retries, and logs its status but never its body', async () => {
    upstream.tokenServer.behaviour.failWith = 500;
    try {
      const res = await credentials(await service.issueToken({ instance: 'i-500' }), {
        registry: upstream.registry.host,
        repository: 'team/app',
      });
      expect(res.status).toBe(503);
      expect(res.json).toEqual({ error: 'unavailable', message: expect.any(String) });
      expect(res.text).not.toContain(FAILURE_BODY_MARKER);
    } finally {
      delete upstream.tokenServer.behaviour.failWith;
    }
    expect(scopeRequests('team/app').map((r) => r.status)).toEqual([500, 500, 500]);
    const log = await service.stderr();
    expect(log).toMatch(
      new RegExp(
        `registry ${upstream.registry.host} \\(source broker\\): token request for repository team/app failed: GET http://127\\.0\\.0\\.1:\\d+/token answered HTTP 500 \\(3 attempts\\)`,
      ),
    );
    expect(log).not.toContain(FAILURE_BODY_MARKER);
    // Not cached: once the realm is back, the same scope works.
    const ok = await credentials(await service.issueToken({ instance: 'i-500' }), {
      registry: upstream.registry.host,
      repository: 'team/app',
    });
    expect(ok.status).toBe(200);
  });

  it('uses the OAuth2 POST password grant when the realm refuses GET, and asks with POST first from then on', async () => {
    upstream.tokenServer.behaviour.refuseGet = true;
    try {
      const token = await service.issueToken({ instance: 'i-post' });
      const res = await credentials(token, { registry: upstream.registry.host, repository: 'post/only' });
      expect(res.status, res.text).toBe(200);
      expect((await manifest('post/only', '1', res.json.token)).status).toBe(200);
      expect(scopeRequests('post/only').map((r) => `${r.method} ${r.status}`)).toEqual(['GET 405', 'POST 200']);
      expect((await credentials(token, { registry: upstream.registry.host, repository: 'post/again' })).status).toBe(
        200,
      );
      expect(scopeRequests('post/again').map((r) => `${r.method} ${r.status}`)).toEqual(['POST 200']);
    } finally {
      upstream.tokenServer.behaviour.refuseGet = false;
    }
  });

  it('refuses a revoked instance on its next token request with 401', async () => {
    const token = await service.issueToken({ instance: 'i-revoked' });
    expect((await credentials(token, { registry: upstream.registry.host, repository: 'library/python' })).status).toBe(
      200,
    );
    await service.revoke('i-revoked');
    const res = await credentials(token, { registry: upstream.registry.host, repository: 'library/python' });
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('token_revoked');
  });

  it('never writes the password to the service log, the audit log, the metrics or an answer', async () => {
    const token = await service.issueToken({ instance: 'i-grep' });
    const answers = [
      await credentials(token, { registry: upstream.registry.host, repository: 'library/python' }),
      await credentials(token, { registry: upstream.registry.host }),
      await credentials(token, { registry: upstream.registry.host, repository: 'secret/x' }),
      await credentials('garbage', { registry: upstream.registry.host, repository: 'library/python' }),
    ].map((a) => a.text);
    const hostConfig = await (
      await fetch(`${service.url}/v1/host-config`, { headers: { authorization: `Bearer ${token}` } })
    ).text();
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    const texts = {
      stderr: await service.stderr(),
      audit: await readFile(service.auditLogPath, 'utf8'),
      metrics,
      hostConfig,
      answers: answers.join('\n'),
      tokenServerLog: await readFile(upstream.tokenLogPath, 'utf8'),
    };
    const basic = Buffer.from(`${upstream.username}:${upstream.password}`).toString('base64');
    for (const [name, text] of Object.entries(texts)) {
      expect(text.length, name).toBeGreaterThan(0);
      expect(text, name).not.toContain(upstream.password);
      expect(text, name).not.toContain(basic);
    }
  });
});
