import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, createServer, get, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STOP_GRACE_MS, stopServing, trackSockets } from '../../src/common/graceful-stop.ts';
import { makeLoopbackCertificate } from '../helpers/tls-fixtures.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'graceful-stop-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('stopServing: the one graceful stop', () => {
  it('is 10 s by default', () => {
    expect(STOP_GRACE_MS).toBe(10_000);
  });

  it('lets a request in flight finish, then closes its kept-alive connection at once', async () => {
    let arrived!: (res: ServerResponse) => void;
    const inHandler = new Promise<ServerResponse>((resolve) => (arrived = resolve));
    const server = createServer((_req, res) => arrived(res));
    trackSockets(server);
    const port = await listen(server);
    const agent = new Agent({ keepAlive: true });
    const answered = new Promise<string>((resolve, reject) => {
      get(`http://127.0.0.1:${port}/`, { agent }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    const res = await inHandler;
    const started = Date.now();
    const stopped = stopServing(server, 60_000);
    res.end('finished');
    expect(await answered).toBe('finished');
    await stopped;
    expect(Date.now() - started).toBeLessThan(5_000);
    agent.destroy();
  });

  it('cuts a connection stuck in its TLS handshake when the grace ends', async () => {
    const { key, cert } = await makeLoopbackCertificate(dir);
    const server = createHttpsServer({ key, cert }, (_req, res) => res.end()) as unknown as Server;
    trackSockets(server);
    const port = await listen(server);
    const silent: Socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => silent.once('connect', resolve));
    const closed = new Promise((resolve) => silent.once('close', resolve));
    const started = Date.now();
    await stopServing(server, 300);
    await closed;
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(5_000);
  });
});
