import { request } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/common/secret.ts';
import type { MirrorLog } from '../../../src/host/mirror/server/mirror-log.ts';
import { createMirrorMetrics } from '../../../src/host/mirror/server/mirror-metrics.ts';
import { createMirrorServer } from '../../../src/host/mirror/server/mirror-server.ts';
import { createPeerPolicy } from '../../../src/host/mirror/server/peer-policy.ts';
import { createUpstreamAuth } from '../../../src/host/mirror/upstream/upstream-auth.ts';
import { createUpstreamHttp } from '../../../src/host/mirror/upstream/upstream-http.ts';
import { fixedUpstreams } from '../../../src/host/mirror/upstream/upstream-source.ts';
import { parseUpstream } from '../../../src/host/mirror/upstream/upstream.ts';

// An upstream or realm that answers `101 Switching Protocols` to a plain request: the pull
// fails within its budget with a line naming the cause, and nothing failed is kept, so the
// next pull (the peer behaving again) succeeds. The endpoint's real modules in process,
// against stand-ins on node:net that write their answers by hand.
const BUDGET_MS = 3000;
const SWITCH = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';
const servers: Server[] = [];
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  while (servers.length) await new Promise((resolve) => servers.pop()!.close(resolve));
});

function answer(status: string, body: string, headers: Record<string, string> = {}): string {
  const head = Object.entries({
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  })
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n');
  return `HTTP/1.1 ${status}\r\n${head}\r\n\r\n${body}`;
}

// A peer that reads one request head per write and answers with `reply(path)` (raw text).
async function rawPeer(reply: (path: string) => string): Promise<string> {
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let seen = '';
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      while (seen.includes('\r\n\r\n')) {
        const head = seen.slice(0, seen.indexOf('\r\n\r\n'));
        seen = seen.slice(seen.indexOf('\r\n\r\n') + 4);
        socket.write(reply(head.split(' ')[1] ?? '/'));
      }
    });
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

// `realms`: the realm hosts the upstream's credential may go to (a realm on another port is
// another host to the realm binding, issue 18 item 7).
async function startEndpoint(upstreamUrl: string, realms: string[] = []) {
  const lines: string[] = [];
  const log: MirrorLog = {
    info: (m) => lines.push(m),
    warn: (m) => lines.push(m),
    debug: () => {},
    close: async () => {},
  };
  const http = createUpstreamHttp({ responseTimeoutMs: BUDGET_MS, exchangeTimeoutMs: BUDGET_MS });
  const credential = { kind: 'basic' as const, username: 'u', secret: new Secret('pw-secret-123') };
  const pull = {
    http,
    auth: createUpstreamAuth({ http, sharedDeadlineMs: 2 * BUDGET_MS }),
    credentials: { get: async () => credential, drop() {} },
    upstreams: fixedUpstreams([parseUpstream(upstreamUrl, { realms })]),
  };
  const mirror = createMirrorServer({
    pull,
    metrics: createMirrorMetrics(),
    log,
    policy: createPeerPolicy(),
    peerUid: async () => 0,
  });
  await new Promise<void>((resolve) => mirror.server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(mirror.server.address() as AddressInfo).port}`;
  stops.push(() => {
    http.close();
    mirror.server.closeAllConnections();
    return new Promise((resolve) => mirror.server.close(() => resolve()));
  });
  return { url, lines };
}
const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of stops) await stop();
});

function pullManifest(endpoint: string): Promise<{ status: number; body: string; ms: number }> {
  const startedAt = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint}/v2/app/manifests/1`, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          ms: performance.now() - startedAt,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function lineWith(lines: string[], text: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const found = lines.find((line) => line.includes(text));
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no log line with "${text}" in:\n${lines.join('\n')}`);
}

const MANIFEST = answer('200 OK', '{"schemaVersion":2}', { 'docker-content-digest': `sha256:${'1'.repeat(64)}` });

describe('an upstream that answers 101 Switching Protocols', () => {
  it('on the /v2/ ping: the pull fails within budget naming the cause; the next pull pings again and succeeds', async () => {
    let switching = true;
    const upstream = await rawPeer((path) => {
      if (path === '/v2/')
        return switching ? SWITCH : answer('401 Unauthorized', '{}', { 'www-authenticate': 'Basic realm="x"' });
      return answer('200 OK', '{"schemaVersion":2}');
    });
    const endpoint = await startEndpoint(upstream);
    const failed = await pullManifest(endpoint.url);
    expect(failed.status).toBe(502);
    expect(failed.ms).toBeLessThan(BUDGET_MS);
    expect(failed.body).toContain('101 Switching Protocols');
    expect(await lineWith(endpoint.lines, 'status=502')).toMatch(
      /cause=upstream_unreachable .*answered 101 Switching Protocols/,
    );
    switching = false;
    const next = await pullManifest(endpoint.url);
    expect(next).toMatchObject({ status: 200, body: '{"schemaVersion":2}' });
  });

  it('at the token realm: the pull fails within budget naming the realm; the next pull fetches a token and succeeds', async () => {
    let switching = true;
    const realm = await rawPeer(() =>
      switching ? SWITCH : answer('200 OK', '{"token":"registry-token-1","expires_in":300}'),
    );
    const upstream = await rawPeer((path) => {
      if (path === '/v2/')
        return answer('401 Unauthorized', '{}', { 'www-authenticate': `Bearer realm="${realm}/token",service="s"` });
      return MANIFEST;
    });
    const endpoint = await startEndpoint(upstream, [new URL(realm).host]);
    const failed = await pullManifest(endpoint.url);
    expect(failed.status).toBe(502);
    expect(failed.ms).toBeLessThan(BUDGET_MS);
    expect(await lineWith(endpoint.lines, 'status=502')).toContain(`${realm} answered 101 Switching Protocols`);
    switching = false;
    expect(await pullManifest(endpoint.url)).toMatchObject({ status: 200, body: '{"schemaVersion":2}' });
  });

  it('on the pull itself: the pull fails within budget naming the cause', async () => {
    const upstream = await rawPeer((path) => (path === '/v2/' ? answer('200 OK', '{}') : SWITCH));
    const endpoint = await startEndpoint(upstream);
    const failed = await pullManifest(endpoint.url);
    expect(failed.status).toBe(502);
    expect(failed.ms).toBeLessThan(BUDGET_MS);
    expect(await lineWith(endpoint.lines, 'status=502')).toContain('answered 101 Switching Protocols');
  });
});
