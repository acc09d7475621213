import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { request } from 'node:https';
import { makeCertificate } from '../../helpers/tls-fixtures.ts';
import { runServe } from '../../../src/service/commands/serve-command.ts';
import type { CommandContext } from '../../../src/common/command-context.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'serve-command-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function context(argv: string[], env: Record<string, string>) {
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const ctx: CommandContext = { argv, env, stdin: new PassThrough(), stdout: new PassThrough(), stderr, cwd: dir };
  return { ctx, stderr: () => text };
}

async function waitFor(read: () => string, pattern: RegExp): Promise<RegExpExecArray> {
  for (let i = 0; i < 200; i++) {
    const match = pattern.exec(read());
    if (match) return match;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no ${pattern} in: ${read()}`);
}

describe('serve command', () => {
  it('logs one listening line, answers, and on stop finishes and resolves 0', async () => {
    const stop = new AbortController();
    const { ctx, stderr } = context(['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'plain')], {});
    const done = runServe(ctx, stop.signal);
    const [, url] = await waitFor(stderr, /^dstack-registry-auth listening on (http:\/\/127\.0\.0\.1:\d+)$/m);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    stop.abort();
    expect(await done).toBe(0);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('serves HTTPS with DSTACK_REGISTRY_AUTH_TLS_CERT/_KEY, also on a non-loopback address', async () => {
    const { certFile: cert, keyFile: key } = await makeCertificate(dir);
    const stop = new AbortController();
    const { ctx, stderr } = context(['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'tls')], {
      DSTACK_REGISTRY_AUTH_TLS_CERT: cert,
      DSTACK_REGISTRY_AUTH_TLS_KEY: key,
    });
    const done = runServe(ctx, stop.signal);
    const [, url] = await waitFor(stderr, /listening on (https:\/\/127\.0\.0\.1:\d+)$/m);
    const ca = await readFile(cert, 'utf8');
    const body = await new Promise<string>((resolve, reject) => {
      request(`${url}/healthz`, { ca }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });
    expect(JSON.parse(body)).toEqual({ status: 'ok' });
    stop.abort();
    expect(await done).toBe(0);
  });

  it('refuses plain HTTP off loopback unless --plain-http, with one line and exit 2', async () => {
    const refused = context(['--listen', '0.0.0.0:0', '--data-dir', join(dir, 'open')], {});
    expect(await runServe(refused.ctx, new AbortController().signal)).toBe(2);
    expect(refused.stderr()).toMatch(
      /^dstack-registry-auth: listen address 0\.0\.0\.0:0 is not loopback.*--plain-http.*\n$/,
    );
    const stop = new AbortController();
    const allowed = context(['--listen', '0.0.0.0:0', '--plain-http', '--data-dir', join(dir, 'open')], {});
    const done = runServe(allowed.ctx, stop.signal);
    await waitFor(allowed.stderr, /listening on http:\/\/0\.0\.0\.0:\d+$/m);
    stop.abort();
    expect(await done).toBe(0);
  });

  it('reports an address in use as one line, exit 2', async () => {
    const stop = new AbortController();
    const first = context(['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'busy')], {});
    const done = runServe(first.ctx, stop.signal);
    const [, port] = await waitFor(first.stderr, /listening on http:\/\/127\.0\.0\.1:(\d+)$/m);
    const second = context(['--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'busy')], {});
    expect(await runServe(second.ctx, new AbortController().signal)).toBe(2);
    expect(second.stderr()).toMatch(/cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
    stop.abort();
    await done;
  });

  it('writes the audit log to DSTACK_REGISTRY_AUTH_AUDIT_LOG (0600) instead of stderr', async () => {
    const auditPath = join(dir, 'audit', 'audit.log');
    const stop = new AbortController();
    const { ctx, stderr } = context(['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'audited')], {
      DSTACK_REGISTRY_AUTH_AUDIT_LOG: auditPath,
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'u',
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: 'audit-test-password',
    });
    const done = runServe(ctx, stop.signal);
    const [, url] = await waitFor(stderr, /listening on (http:\/\/127\.0\.0\.1:\d+)$/m);
    const res = await fetch(`${url}/v1/credentials`, { method: 'POST', body: '{"registry":"docker.io"}' });
    expect(res.status).toBe(401);
    stop.abort();
    expect(await done).toBe(0);
    const lines = (await readFile(auditPath, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      expect.objectContaining({ event: 'credential', outcome: 'denied', reason: 'token_missing' }),
    ]);
    expect(((await stat(auditPath)).mode & 0o777).toString(8)).toBe('600');
    expect(stderr()).not.toContain('"event"');
  });

  it('names a bad TLS file', async () => {
    const { ctx, stderr } = context(['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'badtls')], {
      DSTACK_REGISTRY_AUTH_TLS_CERT: '/nonexistent/c.pem',
      DSTACK_REGISTRY_AUTH_TLS_KEY: '/nonexistent/k.pem',
    });
    expect(await runServe(ctx, new AbortController().signal)).toBe(2);
    expect(stderr()).toContain('DSTACK_REGISTRY_AUTH_TLS_CERT');
  });
});
