import { gzipSync } from 'node:zlib';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLocation } from '../../../src/host/mirror/upstream/redirect-target.ts';
import { parseUpstream } from '../../../src/host/mirror/upstream/upstream.ts';
import { json, startFixtureUpstream, type FixtureUpstream } from '../../helpers/fixture-upstream.ts';
import { lineMatching, startInProcessMirror, type InProcessMirror } from '../../helpers/in-process-mirror.ts';

// The endpoint as a proxy (issue 18, item 6): a manifest past 4 MiB, an encoded body, a
// redirect with user info or toward link-local/metadata addresses never reach the engine;
// each is refused with a registry error and one log line naming the cause.
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DIGEST = `sha256:${'2'.repeat(64)}`;
const BIG = 64 * 1024 * 1024;
let upstream: FixtureUpstream;
let mirror: InProcessMirror;
const written = new Map<string, number>();
const acceptEncoding: string[] = [];

// Writes `total` bytes in 64 KiB chunks as fast as the reader takes them, counting what went out.
function flood(res: ServerResponse, key: string, total: number): void {
  const chunk = Buffer.alloc(64 * 1024, 0x7b);
  let sent = 0;
  written.set(key, 0);
  const more = (): void => {
    while (sent < total && !res.destroyed) {
      sent += chunk.length;
      written.set(key, sent);
      if (!res.write(chunk)) return void res.once('drain', more);
    }
    if (!res.destroyed) res.end();
  };
  res.on('error', () => {});
  more();
}

beforeAll(async () => {
  upstream = await startFixtureUpstream((req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    acceptEncoding.push(String(req.headers['accept-encoding']));
    if (req.url === '/v2/t/big/manifests/declared') {
      res.writeHead(200, { 'content-type': MANIFEST, 'content-length': BIG });
      return flood(res, 'declared', BIG);
    }
    if (req.url === '/v2/t/big/manifests/chunked') {
      res.writeHead(200, { 'content-type': MANIFEST });
      return flood(res, 'chunked', BIG);
    }
    if (req.url === '/v2/t/small/manifests/chunked') {
      res.writeHead(200, { 'content-type': MANIFEST, 'docker-content-digest': DIGEST });
      return flood(res, 'small', 1024 * 1024);
    }
    if (req.url === '/v2/t/gzip/manifests/1') {
      const body = gzipSync(JSON.stringify({ schemaVersion: 2 }));
      res.writeHead(200, { 'content-type': MANIFEST, 'content-encoding': 'gzip', 'content-length': body.length });
      return void res.end(body);
    }
    if (req.url === `/v2/t/gzip/blobs/${DIGEST}`) {
      const body = gzipSync(Buffer.alloc(4096));
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-encoding': 'gzip',
        'content-length': body.length,
      });
      return void res.end(body);
    }
    const redirects: Record<string, string> = {
      [`/v2/t/userinfo/blobs/${DIGEST}`]: 'https://user:s3cret-pass@objects.example/bucket/blob',
      [`/v2/t/metadata/blobs/${DIGEST}`]: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      [`/v2/t/linklocal/blobs/${DIGEST}`]: 'http://[fe80::1]/blob',
      [`/v2/t/fine/blobs/${DIGEST}`]: 'https://objects.example/bucket/blob?X-Amz-Signature=sig',
    };
    const location = redirects[req.url ?? ''];
    if (location !== undefined) {
      res.writeHead(307, { location, 'content-length': 0 });
      return void res.end();
    }
    return json(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
  });
  mirror = await startInProcessMirror([parseUpstream(upstream.url)]);
});
afterAll(async () => {
  await mirror?.close();
  await upstream?.close();
});

async function registryError(response: Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { errors: Array<{ code: string; message: string }> }).errors[0]!;
}

describe('manifest size cap (4 MiB)', () => {
  it('refuses a 64 MiB manifest with a Content-Length at once, reading next to nothing of it', async () => {
    const started = Date.now();
    const response = await fetch(`${mirror.url}/v2/t/big/manifests/declared`);
    expect(response.status).toBe(502);
    expect(await registryError(response)).toMatchObject({
      code: 'MANIFEST_INVALID',
      message: expect.stringContaining(`declares ${BIG} bytes, past the 4 MiB cap`),
    });
    expect(Date.now() - started).toBeLessThan(3_000);
    const line = await lineMatching(mirror, /kind=manifest repository=t\/big ref=declared .*cause=manifest_too_large/);
    expect(line).toContain('status=502');
    for (let i = 0; i < 100 && !upstream.requests.find((r) => r.url.endsWith('/declared'))?.closedEarly; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(upstream.requests.find((r) => r.url.endsWith('/declared'))?.closedEarly).toBe(true);
    expect(written.get('declared')!).toBeLessThan(16 * 1024 * 1024);
  });

  it('cuts a 64 MiB manifest without a Content-Length at the cap: bounded memory, a registry error, not a truncated manifest', async () => {
    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();
    const response = await fetch(`${mirror.url}/v2/t/big/manifests/chunked`);
    expect(response.status).toBe(502);
    expect(await registryError(response)).toMatchObject({
      code: 'MANIFEST_INVALID',
      message: expect.stringContaining('runs past 4194304 bytes'),
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    await lineMatching(mirror, /kind=manifest repository=t\/big ref=chunked .*cause=manifest_too_large/);
    for (
      let i = 0;
      i < 100 && !upstream.requests.find((r) => r.url.endsWith('/big/manifests/chunked'))?.closedEarly;
      i++
    )
      await new Promise((r) => setTimeout(r, 20));
    expect(upstream.requests.find((r) => r.url.endsWith('/big/manifests/chunked'))?.closedEarly).toBe(true);
    expect(written.get('chunked')!).toBeLessThan(16 * 1024 * 1024);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(48 * 1024 * 1024);
  });

  it('passes a manifest under the cap whole, with its length', async () => {
    const response = await fetch(`${mirror.url}/v2/t/small/manifests/chunked`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe(String(1024 * 1024));
    expect(response.headers.get('docker-content-digest')).toBe(DIGEST);
    expect((await response.arrayBuffer()).byteLength).toBe(1024 * 1024);
  });
});

describe('Content-Encoding', () => {
  it('asks upstream for identity and refuses a gzip-encoded manifest or blob, naming the encoding', async () => {
    for (const path of ['/v2/t/gzip/manifests/1', `/v2/t/gzip/blobs/${DIGEST}`]) {
      const response = await fetch(`${mirror.url}${path}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(response.status).toBe(502);
      expect(response.headers.get('content-encoding')).toBeNull();
      expect(await registryError(response)).toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringContaining('Content-Encoding: gzip although asked for identity'),
      });
    }
    await lineMatching(
      mirror,
      /kind=manifest repository=t\/gzip .*cause=upstream_encoding error=".*Content-Encoding: gzip/,
    );
    await lineMatching(mirror, /kind=blob repository=t\/gzip .*cause=upstream_encoding/);
    expect(acceptEncoding.length).toBeGreaterThan(0);
    expect(new Set(acceptEncoding)).toEqual(new Set(['identity']));
  });
});

describe('redirect Location', () => {
  it('refuses a Location carrying user info without showing it', async () => {
    const response = await fetch(`${mirror.url}/v2/t/userinfo/blobs/${DIGEST}`, { redirect: 'manual' });
    expect(response.status).toBe(502);
    expect(response.headers.get('location')).toBeNull();
    const text = await response.text();
    expect(text).not.toContain('s3cret-pass');
    expect(text).toContain('carries user info');
    const line = await lineMatching(mirror, /repository=t\/userinfo .*cause=upstream_location/);
    expect(line).toContain('carries user info');
    expect(line).not.toContain('s3cret-pass');
  });

  it('refuses a Location at 169.254.169.254 (metadata) and at fe80::1 (link-local)', async () => {
    const metadata = await fetch(`${mirror.url}/v2/t/metadata/blobs/${DIGEST}`, { redirect: 'manual' });
    expect(metadata.status).toBe(502);
    expect(metadata.headers.get('location')).toBeNull();
    expect((await registryError(metadata)).message).toContain(
      'redirected to http://169.254.169.254, which points at a cloud metadata address',
    );
    await lineMatching(
      mirror,
      /repository=t\/metadata .*cause=upstream_location error=".*169\.254\.169\.254, which points at a cloud metadata address/,
    );
    const linkLocal = await fetch(`${mirror.url}/v2/t/linklocal/blobs/${DIGEST}`, { redirect: 'manual' });
    expect(linkLocal.status).toBe(502);
    await lineMatching(mirror, /repository=t\/linklocal .*cause=upstream_location error=".*link-local address/);
  });

  it('still passes an ordinary storage redirect as is', async () => {
    const response = await fetch(`${mirror.url}/v2/t/fine/blobs/${DIGEST}`, { redirect: 'manual' });
    expect(response.status).toBe(307);
    expect(response.headers.get('location')).toBe('https://objects.example/bucket/blob?X-Amz-Signature=sig');
  });
});

describe('checkLocation', () => {
  const base = new URL('https://up.example/v2/a/blobs/x');
  it.each([
    ['http://2852039166/', 'metadata'], // 169.254.169.254 spelt as a number
    ['http://[::ffff:169.254.169.254]/', 'metadata'],
    ['http://[fd00:ec2::254]/', 'metadata'],
    ['http://metadata.google.internal/computeMetadata/v1/', 'metadata'],
    ['http://169.254.1.1/', 'link_local'],
    ['http://[febf::1]/', 'link_local'],
    ['http://127.0.0.1:2375/containers/json', 'loopback'],
    ['http://localhost/', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['http://0.0.0.0:8080/', 'loopback'],
    ['https://a:b@storage.example/', 'user_info'],
    ['ftp://storage.example/', 'not_http'],
  ])('%s from an upstream off this host: %s', (location, problem) => {
    expect(checkLocation(location, base, 'https://up.example')).toMatchObject({ ok: false, problem });
  });

  it('takes a loopback target from a loopback upstream, and ordinary storage from anyone', () => {
    expect(
      checkLocation('/storage/blob', new URL('http://127.0.0.1:5000/v2/a/blobs/x'), 'http://127.0.0.1:5000'),
    ).toEqual({ ok: true, href: 'http://127.0.0.1:5000/storage/blob' });
    expect(checkLocation('https://s3.eu-west-1.amazonaws.com/b/k', base, 'https://up.example')).toMatchObject({
      ok: true,
    });
    expect(checkLocation('http://[fe8::1]/', base, 'https://up.example')).toMatchObject({ ok: true }); // 0fe8::, not link-local
  });
});
