import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFileCache } from '../../../../src/host/cache/file-cache.ts';
import { Secret } from '../../../../src/common/secret.ts';
import { credentialGrants } from '../../../helpers/built-service.ts';
import {
  exitOf,
  expectLog,
  logMatching,
  mirrorHome,
  startMirror,
  type MirrorHome,
  type MirrorProcess,
} from '../../../helpers/mirror-process.ts';
import {
  curlAs,
  MANIFEST_V2,
  mirrorTestsRunnable,
  startStaticUpstream,
  uidOf,
  type StaticUpstream,
} from '../../../helpers/static-upstream.ts';

// The built binary's `mirror` against a real htpasswd registry and the real service (static
// source): what an engine sees, what the registry saw, what the logs say.
const runnable = mirrorTestsRunnable();

let up: StaticUpstream;
let home: MirrorHome;
let mirror: MirrorProcess;

beforeAll(async () => {
  up = await startStaticUpstream([
    'library/python:3.14',
    'proxy/library/python:3.14',
    'python:3.14',
    'ruby:1',
    'library/ubuntu:latest',
    'myteam/app:1',
  ]);
  home = await mirrorHome(join(up.dir, 'host'), up.service.url, up.token);
  mirror = await startMirror(home, ['--listen', '127.0.0.1:0', '--upstream', up.registry.url]);
}, 60_000);
afterAll(async () => {
  await mirror?.stop();
  await up?.stop();
});

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

describe.skipIf(!runnable)('mirror (built binary) against an htpasswd registry, static source', () => {
  it('answers GET /v2/ itself, then serves manifest and blob with the credential from the service', async () => {
    const ping = await fetch(`${mirror.url}/v2/`);
    expect(ping.status).toBe(200);
    expect(ping.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    const seeded = up.images.get('library/python:3.14')!;

    const manifest = await fetch(`${mirror.url}/v2/library/python/manifests/3.14`, {
      headers: { accept: MANIFEST_V2, authorization: 'Basic ZW5naW5lOnNlbnQtdGhpcw==' },
    });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toBe(seeded.manifestDigest);
    expect(manifest.headers.get('content-type')).toBe(MANIFEST_V2);
    expect(manifest.headers.get('www-authenticate')).toBeNull();
    const body = Buffer.from(await manifest.arrayBuffer());
    expect(sha256(body)).toBe(seeded.manifestDigest);

    const head = await fetch(`${mirror.url}/v2/library/python/manifests/3.14`, {
      method: 'HEAD',
      headers: { accept: MANIFEST_V2 },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(body.length));

    const blob = await fetch(`${mirror.url}/v2/library/python/blobs/${seeded.layerDigest}`);
    expect(blob.status).toBe(200);
    expect(sha256(Buffer.from(await blob.arrayBuffer()))).toBe(seeded.layerDigest);

    const registryLog = await up.registry.log();
    const forwarded = registryLog
      .split('\n')
      .filter(
        (line) =>
          line.includes('http.request.uri=/v2/library/python/manifests/3.14') &&
          line.includes('docker-credential-dstack/') &&
          line.includes('(mirror)'),
      );
    expect(forwarded.some((line) => line.includes(`auth.user.name=${up.account.username}`))).toBe(true);
    // the engine's own Authorization never reached the registry
    expect(registryLog).not.toContain('engine');

    const log = await logMatching(mirror, /kind=blob/);
    expect(log).toMatch(
      /pull method=GET kind=manifest repository=library\/python ref=3\.14 upstream=http:\/\/127\.0\.0\.1:\d+ status=200 bytes=\d+ ms=\d+/,
    );
    expect(log).toMatch(
      new RegExp(
        `pull method=GET kind=blob repository=library/python ref=${seeded.layerDigest} upstream=\\S+ status=200 bytes=${await blobSize(seeded.layerDigest)}`,
      ),
    );
    expect(credentialGrants(await up.service.audit()).length).toBeGreaterThanOrEqual(1);
  });

  it('passes a Range request through: 206, Content-Range, exactly those bytes', async () => {
    const seeded = up.images.get('library/python:3.14')!;
    const whole = Buffer.from(
      await (await fetch(`${mirror.url}/v2/library/python/blobs/${seeded.layerDigest}`)).arrayBuffer(),
    );
    const part = await fetch(`${mirror.url}/v2/library/python/blobs/${seeded.layerDigest}`, {
      headers: { range: 'bytes=10-29' },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-29/${whole.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(whole.subarray(10, 30))).toBe(true);
  });

  it('refuses push, delete, catalog and names outside the grammar before anything goes upstream', async () => {
    const before = (await up.registry.log()).length;
    const cases: Array<[string, string, number, string]> = [
      ['PUT', '/v2/library/python/manifests/3.14', 405, 'UNSUPPORTED'],
      ['POST', '/v2/library/python/blobs/uploads/', 405, 'UNSUPPORTED'],
      ['DELETE', `/v2/library/python/manifests/sha256:${'a'.repeat(64)}`, 405, 'UNSUPPORTED'],
      ['PATCH', '/v2/library/python/blobs/uploads/x', 405, 'UNSUPPORTED'],
      ['GET', '/v2/_catalog', 404, 'UNSUPPORTED'],
      ['GET', '/v2/Library/Python/manifests/3.14', 400, 'NAME_INVALID'],
      ['GET', '/v2/library%2Fpython/manifests/3.14', 400, 'NAME_INVALID'],
      ['GET', '/v2/library/python/manifests/-bad', 400, 'TAG_INVALID'],
      ['GET', '/v2/library/python/blobs/sha256:abc', 400, 'DIGEST_INVALID'],
    ];
    for (const [method, path, status, code] of cases) {
      const response = await fetch(`${mirror.url}${path}`, { method });
      expect({ method, path, status: response.status }).toEqual({ method, path, status });
      const json = (await response.json()) as { errors: Array<{ code: string; message: string }> };
      expect(json.errors[0]!.code).toBe(code);
      expect(json.errors[0]!.message).toMatch(/^docker-credential-dstack mirror: /);
    }
    expect((await up.registry.log()).slice(before)).not.toMatch(
      /http\.request\.uri=\S*(_catalog|Library|%2F|uploads|-bad|sha256:abc)/,
    );
    await expectLog(
      mirror,
      /refused method=PUT path=\/v2\/library\/python\/manifests\/3\.14 status=405 cause=bad_request/,
    );
  });

  it('a repository the upstream lacks: 404 MANIFEST_UNKNOWN naming where it looked, one log line with the cause', async () => {
    const response = await fetch(`${mirror.url}/v2/library/absent/manifests/1`);
    expect(response.status).toBe(404);
    const json = (await response.json()) as { errors: Array<{ code: string; message: string }> };
    expect(json.errors[0]!.code).toBe('MANIFEST_UNKNOWN');
    expect(json.errors[0]!.message).toContain(`${up.registry.url}/v2/library/absent`);
    await expectLog(
      mirror,
      /pull method=GET kind=manifest repository=library\/absent ref=1 status=404 .*cause=upstream_404/,
    );
  });

  it('refuses a connection from another uid with 403 DENIED and one log line naming it', async () => {
    const nobody = await uidOf('nobody');
    const refused = await curlAs('nobody', `${mirror.url}/v2/library/python/manifests/3.14`);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body).errors[0].code).toBe('DENIED');
    await expectLog(mirror, `refused connection from uid ${nobody} (127.0.0.1:`);
    // health and metrics answer everyone
    expect((await curlAs('nobody', `${mirror.url}/healthz`)).status).toBe(200);
  });

  it('--allow-uid and --allow-gid let that user pull', async () => {
    const nobody = await uidOf('nobody');
    const byUid = await startMirror(
      home,
      ['--listen', '127.0.0.1:0', '--upstream', up.registry.url, '--allow-uid', String(nobody)],
      { name: 'allow-uid' },
    );
    const gid = Number(
      (await readFile('/etc/passwd', 'utf8'))
        .split('\n')
        .find((l) => l.startsWith('nobody:'))!
        .split(':')[3],
    );
    const byGid = await startMirror(
      home,
      ['--listen', '127.0.0.1:0', '--upstream', up.registry.url, '--allow-gid', String(gid)],
      { name: 'allow-gid' },
    );
    try {
      expect((await curlAs('nobody', `${byUid.url}/v2/library/python/manifests/3.14`)).status).toBe(200);
      expect((await curlAs('nobody', `${byGid.url}/v2/library/python/manifests/3.14`)).status).toBe(200);
    } finally {
      await byUid.stop();
      await byGid.stop();
    }
  });

  it('a path-prefixed upstream asks for <prefix>/<name>; strip asks without library/; both falls back on 404', async () => {
    const prefixed = await startMirror(home, ['--listen', '127.0.0.1:0', '--upstream', `${up.registry.url}/proxy`], {
      name: 'prefix',
    });
    const strip = await startMirror(
      home,
      ['--listen', '127.0.0.1:0', '--upstream', up.registry.url, '--library', 'strip'],
      { name: 'strip' },
    );
    const both = await startMirror(
      home,
      ['--listen', '127.0.0.1:0', '--upstream', up.registry.url, '--library', 'both'],
      { name: 'both' },
    );
    try {
      const digest = async (base: string, name: string) =>
        (
          await fetch(`${base}/v2/${name}/manifests/${name.endsWith('ruby') ? '1' : '3.14'}`, {
            headers: { accept: MANIFEST_V2 },
          })
        ).headers.get('docker-content-digest');
      expect(await digest(prefixed.url, 'library/python')).toBe(
        up.images.get('proxy/library/python:3.14')!.manifestDigest,
      );
      await expectLog(prefixed, 'upstream_repository=proxy/library/python');
      expect(await digest(strip.url, 'library/python')).toBe(up.images.get('python:3.14')!.manifestDigest);
      expect(await digest(both.url, 'library/python')).toBe(up.images.get('library/python:3.14')!.manifestDigest);
      expect(await digest(both.url, 'library/ruby')).toBe(up.images.get('ruby:1')!.manifestDigest);
      await expectLog(both, /repository=library\/ruby ref=1 upstream=\S+ upstream_repository=ruby status=200/);
    } finally {
      await Promise.all([prefixed.stop(), strip.stop(), both.stop()]);
    }
  });

  it('local-name mode: a single-component name is library/<name> (keep), <name> (strip), both in turn; a namespaced one keeps its path', async () => {
    const strip = await startMirror(
      home,
      ['--listen', '127.0.0.1:0', '--upstream', up.registry.url, '--library', 'strip'],
      { name: 'local-strip' },
    );
    const both = await startMirror(
      home,
      ['--listen', '127.0.0.1:0', '--upstream', up.registry.url, '--library', 'both'],
      { name: 'local-both' },
    );
    try {
      const get = (base: string, path: string) => fetch(`${base}/v2/${path}`, { headers: { accept: MANIFEST_V2 } });
      const digestOf = async (base: string, path: string) =>
        (await get(base, path)).headers.get('docker-content-digest');
      const python = up.images.get('library/python:3.14')!;
      expect(await digestOf(mirror.url, 'python/manifests/3.14')).toBe(python.manifestDigest);
      expect(await digestOf(mirror.url, `python/manifests/${python.manifestDigest}`)).toBe(python.manifestDigest);
      expect((await get(mirror.url, `python/blobs/${python.layerDigest}`)).status).toBe(200);
      expect(await digestOf(mirror.url, 'ubuntu/manifests/latest')).toBe(
        up.images.get('library/ubuntu:latest')!.manifestDigest,
      );
      expect(await digestOf(mirror.url, 'myteam/app/manifests/1')).toBe(up.images.get('myteam/app:1')!.manifestDigest);
      await expectLog(
        mirror,
        /kind=manifest repository=python ref=3\.14 upstream=\S+ upstream_repository=library\/python status=200/,
      );
      await expectLog(mirror, /kind=manifest repository=myteam\/app ref=1 upstream=\S+ status=200/);
      expect(await digestOf(strip.url, 'python/manifests/3.14')).toBe(up.images.get('python:3.14')!.manifestDigest);
      expect(await digestOf(both.url, 'python/manifests/3.14')).toBe(python.manifestDigest);
      expect(await digestOf(both.url, 'ruby/manifests/1')).toBe(up.images.get('ruby:1')!.manifestDigest);
      await expectLog(both, /repository=ruby ref=1 upstream=\S+ status=200/);
      const registryLog = await up.registry.log();
      expect(registryLog).toContain('http.request.uri=/v2/library/ruby/manifests/1');
      expect(registryLog).toContain('http.request.uri=/v2/ruby/manifests/1');
      expect(registryLog).toContain('http.request.uri=/v2/library/python/manifests/3.14');
      expect(registryLog).toContain('http.request.uri=/v2/myteam/app/manifests/1');
      // The mirror-mode path is served by the same endpoint at the same time.
      expect(await digestOf(mirror.url, 'library/python/manifests/3.14')).toBe(python.manifestDigest);
    } finally {
      await Promise.all([strip.stop(), both.stop()]);
    }
  });

  it('a cached credential the upstream refuses is dropped and fetched afresh, once', async () => {
    const fresh = await mirrorHome(join(up.dir, 'host-refresh'), up.service.url, up.token);
    // A credential the registry no longer accepts, still fresh by its dates.
    await openFileCache(fresh.cacheDir).write({
      kind: 'credential',
      registry: up.registry.host,
      username: up.account.username,
      secret: new Secret('an-old-password'),
      issuedAt: new Date(),
      expiresAt: new Date(Date.now() + 600_000),
    });
    const grantsBefore = credentialGrants(await up.service.audit()).length;
    const refreshing = await startMirror(fresh, ['--listen', '127.0.0.1:0', '--upstream', up.registry.url], {
      name: 'refresh',
    });
    try {
      const response = await fetch(`${refreshing.url}/v2/library/python/manifests/3.14`, {
        headers: { accept: MANIFEST_V2 },
      });
      expect(response.status).toBe(200);
      expect(credentialGrants(await up.service.audit()).length).toBe(grantsBefore + 1);
    } finally {
      await refreshing.stop();
    }
  });

  it('metrics count requests, bytes, refusals and credential requests; the probe reaches the upstream with the credential', async () => {
    const probe = await fetch(`${mirror.url}/_dstack/probe`);
    expect(probe.status).toBe(200);
    expect(await probe.json()).toEqual({
      upstream: up.registry.url,
      registry: up.registry.host,
      status: 200,
      ok: true,
      reason: 'ok',
      detail: 'the upstream accepts the credential from the dstack server',
    });
    const metrics = await (await fetch(`${mirror.url}/metrics`)).text();
    expect(metrics).toMatch(/^dstack_mirror_requests_total\{kind="manifest",status="200"\} [1-9]/m);
    expect(metrics).toMatch(/^dstack_mirror_requests_total\{kind="blob",status="206"\} 1$/m);
    expect(metrics).toMatch(/^dstack_mirror_response_bytes_total\{kind="blob"\} [1-9]/m);
    expect(metrics).toMatch(/^dstack_mirror_upstream_errors_total\{cause="upstream_404"\} 1$/m);
    expect(metrics).toMatch(/^dstack_mirror_refused_peers_total [1-9]/m);
    expect(metrics).toMatch(/^dstack_mirror_credential_requests_total\{outcome="basic"\} 1$/m);
  });

  it('never logs the password; stops on SIGTERM with exit 0', async () => {
    const own = await startMirror(home, ['--listen', '127.0.0.1:0', '--upstream', up.registry.url], {
      name: 'sigterm',
    });
    expect((await fetch(`${own.url}/v2/library/python/manifests/3.14`)).status).toBe(200);
    own.child.kill('SIGTERM');
    expect(await exitOf(own.child)).toBe(0);
    await expectLog(own, 'stopping (SIGTERM)');
    for (const text of [await mirror.log(), await own.log(), await readFile(home.logFile, 'utf8')]) {
      expect(text).not.toContain(up.account.password);
      expect(text).not.toContain(up.account.basic.slice('Basic '.length));
    }
  });
});

describe.skipIf(!runnable)('mirror (built binary) when the service holds a wrong password', () => {
  let wrong: StaticUpstream;
  let wrongMirror: MirrorProcess;
  beforeAll(async () => {
    wrong = await startStaticUpstream(['library/python:3.14'], { password: 'not-the-registry-password' });
    wrongMirror = await startMirror(await mirrorHome(join(wrong.dir, 'host'), wrong.service.url, wrong.token), [
      '--listen',
      '127.0.0.1:0',
      '--upstream',
      wrong.registry.url,
    ]);
  }, 60_000);
  afterAll(async () => {
    await wrongMirror?.stop();
    await wrong?.stop();
  });

  it('refreshes once, then answers 403 DENIED naming the cause; the probe says ok: false', async () => {
    const response = await fetch(`${wrongMirror.url}/v2/library/python/manifests/3.14`);
    expect(response.status).toBe(403);
    const json = (await response.json()) as { errors: Array<{ code: string; message: string }> };
    expect(json.errors[0]!.code).toBe('DENIED');
    expect(json.errors[0]!.message).toMatch(
      /refused the credential from the dstack server .*HTTP 401, also after fetching a fresh one/,
    );
    expect(response.headers.get('www-authenticate')).toBeNull();
    expect(credentialGrants(await wrong.service.audit())).toHaveLength(2);
    await expectLog(wrongMirror, /status=403 .*cause=upstream_401/);

    const probe = await fetch(`${wrongMirror.url}/_dstack/probe`);
    expect(probe.status).toBe(502);
    expect(await probe.json()).toMatchObject({
      ok: false,
      status: 401,
      reason: 'upstream_401',
      registry: wrong.registry.host,
    });
    expect(await wrongMirror.log()).not.toContain('not-the-registry-password');
  });
});

async function blobSize(digest: string): Promise<number> {
  const response = await fetch(`${mirror.url}/v2/library/python/blobs/${digest}`, { method: 'HEAD' });
  return Number(response.headers.get('content-length'));
}
