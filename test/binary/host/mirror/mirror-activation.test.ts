import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HELPER_BINARY } from '../../../helpers/helper-binary.ts';
import { sleep, stopProcess, trackProcess } from '../../../helpers/reaper.ts';
import { exitOf, mirrorHome, type MirrorHome } from '../../../helpers/mirror-process.ts';
import {
  MANIFEST_V2,
  mirrorTestsRunnable,
  startStaticUpstream,
  type StaticUpstream,
} from '../../../helpers/static-upstream.ts';

// systemd socket activation as systemd does it: the listening socket already bound, passed as
// fd 3, LISTEN_FDS=1 and LISTEN_PID = the pid of the process that then runs (sh's $$ kept
// across exec). The endpoint serves it and exits after the idle time with no connection open.
const runnable = mirrorTestsRunnable();
let up: StaticUpstream;
let home: MirrorHome;

beforeAll(async () => {
  up = await startStaticUpstream(['library/python:3.14']);
  home = await mirrorHome(join(up.dir, 'host'), up.service.url, up.token);
}, 60_000);
afterAll(async () => {
  await up?.stop();
});

async function boundSocket(): Promise<{ server: Server; port: number; fd: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  return { server, port: (server.address() as AddressInfo).port, fd };
}

function activate(fd: number, args: string[], stderrPath: string) {
  const out = openSync(stderrPath, 'a');
  const child = spawn('sh', ['-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" mirror "$@"', HELPER_BINARY, ...args], {
    env: home.env,
    stdio: ['ignore', out, out, fd],
  });
  closeSync(out);
  trackProcess(child.pid!, 'mirror (activated)');
  return child;
}

describe.skipIf(!runnable)('mirror (built binary) under systemd socket activation', () => {
  it('serves the inherited socket, ignoring --listen, and exits 0 once idle for --idle-exit', async () => {
    const socket = await boundSocket();
    const stderrPath = join(home.dir, 'activated.stderr');
    const child = activate(
      socket.fd,
      ['--listen', '127.0.0.1:1', '--upstream', up.registry.url, '--idle-exit', '1s'],
      stderrPath,
    );
    // The parent's copy goes; the child keeps listening on its own.
    socket.server.close();
    try {
      const response = await fetch(`http://127.0.0.1:${socket.port}/v2/library/python/manifests/3.14`, {
        headers: { accept: MANIFEST_V2, connection: 'close' },
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('docker-content-digest')).toBe(up.images.get('library/python:3.14')!.manifestDigest);
      expect(await exitOf(child)).toBe(0);
      const log = await readFile(stderrPath, 'utf8');
      expect(log).toContain('(systemd socket)');
      expect(log).toContain('--listen is ignored: systemd passed the listening socket');
      expect(log).toContain('stopping (no connection for 1 s)');
    } finally {
      await stopProcess(child.pid!, 2_000);
    }
  });

  it('does not exit while a connection is open', async () => {
    const socket = await boundSocket();
    const stderrPath = join(home.dir, 'activated-open.stderr');
    const child = activate(socket.fd, ['--upstream', up.registry.url, '--idle-exit', '1s'], stderrPath);
    socket.server.close();
    let client: Socket | undefined;
    try {
      client = await new Promise<Socket>((resolve, reject) => {
        const c = connect(socket.port, '127.0.0.1', () => resolve(c));
        c.once('error', reject);
      });
      await sleep(2_500);
      expect(child.exitCode).toBeNull();
      client.end();
      expect(await exitOf(child)).toBe(0);
    } finally {
      client?.destroy();
      await stopProcess(child.pid!, 2_000);
    }
  });

  it('LISTEN_FDS naming another process is not an activation: it listens on --listen', async () => {
    const out = join(home.dir, 'not-activated.stderr');
    const fd = openSync(out, 'a');
    const child = spawn(HELPER_BINARY, ['mirror', '--listen', '127.0.0.1:0', '--upstream', up.registry.url], {
      env: { ...home.env, LISTEN_FDS: '1', LISTEN_PID: '1' },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    trackProcess(child.pid!, 'mirror');
    try {
      let log = '';
      for (let i = 0; i < 500 && !log.includes('listening on'); i++) {
        await sleep(20);
        log = await readFile(out, 'utf8');
      }
      expect(log).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+; /);
      expect(log).not.toContain('systemd socket');
    } finally {
      await stopProcess(child.pid!, 5_000);
    }
  });
});
