import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContractServer, TEST_INSTANCE_TOKEN, type ContractServer } from '../../../helpers/contract-server.ts';
import { assertBinaryBuilt } from '../../../helpers/helper-binary.ts';
import { sleep } from '../../../helpers/reaper.ts';
import { expectLog, mirrorHome, startMirror, type MirrorHome } from '../../../helpers/mirror-process.ts';
import { json, startFixtureUpstream, type FixtureUpstream } from '../../../helpers/fixture-upstream.ts';

// The built binary against stand-ins for what a real registry does not show on demand:
// redirects to object storage, a body that never ends, 5xx, a service that is down or
// refuses this host. The service is the contract fixture (test/helpers/contract-server.ts).
type RegistryErrors = { errors: Array<{ code: string; message: string }> };
const DIGEST = `sha256:${'1'.repeat(64)}`;
const BASIC = `Basic ${Buffer.from('u:pw-secret-123').toString('base64')}`;
let dir: string;
let service: ContractServer;
let upstream: FixtureUpstream;
let broken: FixtureUpstream;
let locked: FixtureUpstream;
let home: MirrorHome;

beforeAll(async () => {
  assertBinaryBuilt();
  dir = await mkdtemp(join(tmpdir(), 'mirror-behaviour-'));
  upstream = await startFixtureUpstream(async (req, res) => {
    if (req.headers.authorization !== BASIC)
      return json(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] }, { 'www-authenticate': 'Basic realm="fixture"' });
    if (req.url === '/v2/') return json(res, 200, {});
    if (req.url === `/v2/team/app/blobs/${DIGEST}`) {
      res.writeHead(307, { location: 'https://objects.example/bucket/blob?X-Amz-Signature=sig', 'content-length': 0 });
      return void res.end();
    }
    if (req.url === `/v2/team/relative/blobs/${DIGEST}`) {
      res.writeHead(302, { location: '/storage/blob', 'content-length': 0 });
      return void res.end();
    }
    if (req.url === `/v2/team/slow/blobs/${DIGEST}`) {
      // A body that keeps coming until someone stops reading.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 1 << 30 });
      res.write(Buffer.alloc(64 * 1024));
      return;
    }
    if (req.url === '/v2/team/both/manifests/1')
      return json(res, 200, { from: 'second' }, { 'docker-content-digest': DIGEST });
    return json(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
  });
  broken = await startFixtureUpstream((_req, res) =>
    json(res, 503, { errors: [{ code: 'UNAVAILABLE', message: 'internal detail' }] }),
  );
  // A registry the service has no credential for.
  locked = await startFixtureUpstream((_req, res) =>
    json(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] }, { 'www-authenticate': 'Basic realm="locked"' }),
  );
  const credential = { username: 'u', secret: 'pw-secret-123', ttlMs: 600_000 };
  service = await startContractServer({
    credentials: { [new URL(upstream.url).host]: credential, [new URL(broken.url).host]: credential },
  });
  home = await mirrorHome(join(dir, 'host'), service.url, TEST_INSTANCE_TOKEN);
}, 30_000);
afterAll(async () => {
  await upstream?.close();
  await broken?.close();
  await locked?.close();
  await service?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('mirror (built binary) with stand-in upstreams', () => {
  it('passes a redirect to the engine as is (absolute), never following it', async () => {
    const mirror = await startMirror(home, ['--listen', '127.0.0.1:0', '--upstream', upstream.url], {
      name: 'redirect',
    });
    try {
      const redirected = await fetch(`${mirror.url}/v2/team/app/blobs/${DIGEST}`, { redirect: 'manual' });
      expect(redirected.status).toBe(307);
      expect(redirected.headers.get('location')).toBe('https://objects.example/bucket/blob?X-Amz-Signature=sig');
      const relative = await fetch(`${mirror.url}/v2/team/relative/blobs/${DIGEST}`, { redirect: 'manual' });
      expect(relative.status).toBe(302);
      expect(relative.headers.get('location')).toBe(`${upstream.url}/storage/blob`);
      expect(upstream.requests.some((r) => r.url.startsWith('/storage'))).toBe(false);
    } finally {
      await mirror.stop();
    }
  });

  it('a client that disconnects mid-body aborts the upstream request', async () => {
    const mirror = await startMirror(home, ['--listen', '127.0.0.1:0', '--upstream', upstream.url], {
      name: 'disconnect',
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const req = request(`${mirror.url}/v2/team/slow/blobs/${DIGEST}`, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => {});
        req.on('close', resolve);
        setTimeout(() => reject(new Error('no body')), 10_000);
        req.end();
      });
      const record = upstream.requests.find((r) => r.url === `/v2/team/slow/blobs/${DIGEST}`)!;
      for (let i = 0; i < 250 && !record.closedEarly; i++) await sleep(20);
      expect(record.closedEarly).toBe(true);
      await expectLog(mirror, /kind=blob repository=team\/slow .*status=200 bytes=\d+ ms=\d+ aborted=true/);
    } finally {
      await mirror.stop();
    }
  });

  it('an upstream failing with 5xx is passed over for the next; its body never reaches the engine', async () => {
    const mirror = await startMirror(
      home,
      ['--listen', '127.0.0.1:0', '--upstream', broken.url, '--upstream', upstream.url],
      { name: 'failover' },
    );
    try {
      const ok = await fetch(`${mirror.url}/v2/team/both/manifests/1`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ from: 'second' });
      const alone = await startMirror(home, ['--listen', '127.0.0.1:0', '--upstream', broken.url], {
        name: 'failover-alone',
      });
      try {
        const failed = await fetch(`${alone.url}/v2/team/both/manifests/1`);
        expect(failed.status).toBe(502);
        const text = await failed.text();
        expect(JSON.parse(text).errors[0]).toMatchObject({
          code: 'UNAVAILABLE',
          message: `docker-credential-dstack mirror: upstream ${broken.url} failed with HTTP 503`,
        });
        expect(text).not.toContain('internal detail');
        await expectLog(alone, /status=502 .*cause=upstream_5xx/);
      } finally {
        await alone.stop();
      }
    } finally {
      await mirror.stop();
    }
  });

  it('service down: served from a cached credential; without one, 503 naming the cause', async () => {
    const cached = await mirrorHome(join(dir, 'host-down'), service.url, TEST_INSTANCE_TOKEN);
    const mirror = await startMirror(cached, ['--listen', '127.0.0.1:0', '--upstream', upstream.url], { name: 'down' });
    try {
      expect((await fetch(`${mirror.url}/v2/team/both/manifests/1`)).status).toBe(200);
      service.fallback = { kind: 'error', status: 503, error: 'unavailable', retryAfter: '0' };
      expect((await fetch(`${mirror.url}/v2/team/both/manifests/1`)).status).toBe(200);
      const empty = await mirrorHome(join(dir, 'host-empty'), service.url, TEST_INSTANCE_TOKEN);
      const cold = await startMirror(
        empty,
        ['--listen', '127.0.0.1:0', '--upstream', upstream.url, '--library', 'keep'],
        { name: 'cold', env: { DOCKER_CREDENTIAL_DSTACK_TIMEOUT: '1s' } },
      );
      try {
        const failed = await fetch(`${cold.url}/v2/team/both/manifests/1`);
        expect(failed.status).toBe(503);
        expect(((await failed.json()) as RegistryErrors).errors[0]!.message).toMatch(
          /no credential for 127\.0\.0\.1:\d+: dstack server http:\/\/127\.0\.0\.1:\d+ is unavailable \(HTTP 503/,
        );
        await expectLog(cold, /status=503 .*cause=service_unreachable/);
      } finally {
        await cold.stop();
      }
    } finally {
      service.fallback = { kind: 'ok' };
      await mirror.stop();
    }
  });

  it('an upstream that needs a credential the service does not have: 403 saying so', async () => {
    const mirror = await startMirror(home, ['--listen', '127.0.0.1:0', '--upstream', locked.url], { name: 'locked' });
    try {
      const refused = await fetch(`${mirror.url}/v2/team/app/manifests/1`);
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as RegistryErrors).errors[0]!.message).toMatch(
        /needs a credential for team\/app \(HTTP 401\) and the dstack server has none for 127\.0\.0\.1:\d+/,
      );
      expect(locked.requests.every((r) => r.authorization === undefined)).toBe(true);
    } finally {
      await mirror.stop();
    }
  });

  it('a non-loopback --listen needs --allow-non-loopback, and then warns', async () => {
    const { execa } = await import('execa');
    const { HELPER_BINARY } = await import('../../../helpers/helper-binary.ts');
    const refused = await execa(HELPER_BINARY, ['mirror', '--listen', '0.0.0.0:0', '--upstream', upstream.url], {
      env: home.env,
      extendEnv: false,
      reject: false,
      timeout: 10_000,
    });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toBe(
      "docker-credential-dstack mirror: --listen 0.0.0.0:0: not a loopback address; the endpoint serves the fleet's pull rights to whoever reaches it. Add --allow-non-loopback if that is really meant",
    );
    const mirror = await startMirror(
      home,
      ['--listen', '0.0.0.0:0', '--upstream', upstream.url, '--allow-non-loopback'],
      { name: 'wide' },
    );
    try {
      await expectLog(mirror, /warning: listening on 0\.0\.0\.0:0, which is not loopback/);
      const port = new URL(mirror.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/v2/team/both/manifests/1`)).status).toBe(200);
    } finally {
      await mirror.stop();
    }
  });

  it('a revoked instance token: 403 DENIED credential_refused, and the cached credential is dropped', async () => {
    const revoked = await mirrorHome(join(dir, 'host-revoked'), service.url, TEST_INSTANCE_TOKEN);
    // A cached credential past its refresh point: the next pull asks the service, which says revoked.
    const { openFileCache } = await import('../../../../src/host/cache/file-cache.ts');
    const { Secret } = await import('../../../../src/common/secret.ts');
    const key = new URL(upstream.url).host;
    await openFileCache(revoked.cacheDir).write({
      kind: 'credential',
      registry: key,
      username: 'u',
      secret: new Secret('pw-secret-123'),
      issuedAt: new Date(Date.now() - 400_000),
      expiresAt: new Date(Date.now() + 200_000),
    });
    service.fallback = { kind: 'error', status: 401, error: 'token_revoked', message: 'instance i-1 revoked' };
    const mirror = await startMirror(revoked, ['--listen', '127.0.0.1:0', '--upstream', upstream.url], {
      name: 'revoked',
      env: { DOCKER_CREDENTIAL_DSTACK_TIMEOUT: '1s' },
    });
    try {
      const refused = await fetch(`${mirror.url}/v2/team/both/manifests/1`);
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as RegistryErrors).errors[0]).toMatchObject({
        code: 'DENIED',
        message: expect.stringMatching(
          /the dstack server refused a credential for 127\.0\.0\.1:\d+: instance token revoked by/,
        ),
      });
      expect(openFileCache(revoked.cacheDir).read(key)).toBeUndefined();
      await expectLog(mirror, /status=403 .*cause=credential_refused/);
    } finally {
      service.fallback = { kind: 'ok' };
      await mirror.stop();
    }
  });
});
