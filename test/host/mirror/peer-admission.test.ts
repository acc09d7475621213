import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { MirrorLog } from '../../../src/host/mirror/server/mirror-log.ts';
import { createMirrorMetrics } from '../../../src/host/mirror/server/mirror-metrics.ts';
import { createMirrorServer, type MirrorServer } from '../../../src/host/mirror/server/mirror-server.ts';
import { REFUSED_LINGER_MS } from '../../../src/host/mirror/server/peer-admission.ts';
import { createPeerPolicy } from '../../../src/host/mirror/server/peer-policy.ts';
import type { ConnectionEnds } from '../../../src/host/mirror/server/peer-uid.ts';
import { createUpstreamAuth } from '../../../src/host/mirror/upstream/upstream-auth.ts';
import { createUpstreamHttp } from '../../../src/host/mirror/upstream/upstream-http.ts';
import { fixedUpstreams } from '../../../src/host/mirror/upstream/upstream-source.ts';
import { parseUpstream } from '../../../src/host/mirror/upstream/upstream.ts';

// The three verdicts on a connection, through the endpoint's real server in process with the
// socket-table lookup stood in: a failed read of the table answers 503 naming its cause (never
// 403, never "a peer whose uid the kernel does not list"), and is retried once; a refused
// peer's connection is closed after its answer, and after REFUSED_LINGER_MS when it sends nothing.
const running: MirrorServer[] = [];
afterEach(async () => {
  while (running.length) {
    const { server } = running.pop()!;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function endpoint(peerUid: (ends: ConnectionEnds) => Promise<number | undefined>) {
  const lines: string[] = [];
  const log: MirrorLog = {
    info: (m) => lines.push(m),
    warn: (m) => lines.push(m),
    debug: () => {},
    close: async () => {},
  };
  const http = createUpstreamHttp({ responseTimeoutMs: 1000, exchangeTimeoutMs: 1000 });
  const pull = {
    http,
    auth: createUpstreamAuth({ http, sharedDeadlineMs: 2000 }),
    credentials: { get: async () => undefined, drop() {} },
    upstreams: fixedUpstreams([parseUpstream('http://127.0.0.1:9')]),
  };
  const mirror = createMirrorServer({ pull, metrics: createMirrorMetrics(), log, policy: createPeerPolicy(), peerUid });
  running.push(mirror);
  await new Promise<void>((resolve) => mirror.server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(mirror.server.address() as AddressInfo).port}`, lines, mirror };
}

const emfile = (): Error =>
  Object.assign(new Error('EMFILE: too many open files, read'), { code: 'EMFILE', errno: -24 });

describe('peer admission', () => {
  it('a socket table that cannot be read: 503 with Retry-After, one line naming descriptor exhaustion, never 403', async () => {
    const { url, lines } = await endpoint(async () => {
      throw emfile();
    });
    const answer = await fetch(`${url}/v2/`);
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('5');
    expect(answer.headers.get('connection')).toBe('close');
    const body = (await answer.json()) as { errors: Array<{ code: string; message: string }> };
    expect(body.errors[0]!.code).toBe('UNAVAILABLE');
    expect(body.errors[0]!.message).toContain('cannot check who is connecting');
    const warning = lines.filter((line) => line.startsWith('cannot tell who is connecting'));
    expect(warning).toHaveLength(1);
    expect(warning[0]).toMatch(
      /^cannot tell who is connecting from 127\.0\.0\.1:\d+: reading the kernel's socket table \(\/proc\/net\/tcp\) failed: EMFILE: too many open files, read; the endpoint has run out of file descriptors \(\d+ connections open\): raise its limit \(LimitNOFILE\), or lower --max-connections-per-uid; answered 503$/,
    );
    expect(lines.join('\n')).not.toMatch(/does not list|refused connection/);
  });

  it('a read that failed at accept is tried once more at the request: root then gets its answer', async () => {
    let calls = 0;
    const { url } = await endpoint(async () => {
      if (++calls === 1) throw emfile();
      return 0;
    });
    const answer = await fetch(`${url}/v2/`);
    expect(answer.status).toBe(200);
    expect(calls).toBe(2);
  });

  it('a refused peer that sends nothing is closed after the linger; one that asks gets 403 and the connection closes', async () => {
    const { url } = await endpoint(async () => 65534);
    const { port } = new URL(url);
    const idle = connect(Number(port), '127.0.0.1');
    const started = Date.now();
    await new Promise((resolve) => idle.on('close', resolve));
    expect(Date.now() - started).toBeGreaterThanOrEqual(REFUSED_LINGER_MS - 100);
    expect(Date.now() - started).toBeLessThan(REFUSED_LINGER_MS + 2000);

    const asking = connect(Number(port), '127.0.0.1');
    let received = '';
    asking.on('data', (chunk: Buffer) => (received += chunk.toString()));
    asking.write('GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    const askedAt = Date.now();
    await new Promise((resolve) => asking.on('close', resolve));
    expect(received).toMatch(/^HTTP\/1\.1 403 /);
    expect(received).toContain('"code":"DENIED"');
    expect(Date.now() - askedAt).toBeLessThan(REFUSED_LINGER_MS);
  });

  it('a uid at the cap has further connections closed at once, with one warning; root is never capped', async () => {
    const uidOf = new Map<number, number>();
    // Looked up a moment later, once the client side has named the port's uid.
    const { url, lines, mirror } = await endpoint(async (ends) => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      return uidOf.get(ends.remotePort) ?? 0;
    });
    const { port } = new URL(url);
    const open = (uid: number) =>
      new Promise<ReturnType<typeof connect>>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          uidOf.set(socket.localPort!, uid);
          resolve(socket);
        });
      });
    // 70 connections of uid 1000 (allowed by no policy here: refused, lingering) and 70 of root.
    const sockets = [
      ...(await Promise.all(Array.from({ length: 70 }, () => open(1000)))),
      ...(await Promise.all(Array.from({ length: 70 }, () => open(0)))),
    ];
    try {
      const deadline = Date.now() + 2000;
      while (mirror.openConnections() !== 64 + 70 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(mirror.openConnections()).toBe(64 + 70);
      await new Promise((resolve) => setTimeout(resolve, 300)); // and it stays there
      expect(mirror.openConnections()).toBe(64 + 70);
      expect(
        lines.filter((line) => line.startsWith('closed a connection from uid 1000: it already holds 64 connections')),
      ).toHaveLength(1);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});
