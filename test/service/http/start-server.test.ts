import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate } from '../../helpers/tls-fixtures.ts';
import { startServer } from '../../../src/service/http/start-server.ts';
import { isCodedError } from '../../../src/common/errors.ts';
import type { ServerResponse } from 'node:http';

let dir: string;
const pair = (name: string) => ({ certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}-key.pem`) });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'start-server-'));
  for (const name of ['a', 'b']) await makeCertificate(dir, { name });
  await writeFile(join(dir, 'garbage.pem'), 'this is not a PEM file\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const handler = () => {};

async function refusal(tls: { certFile: string; keyFile: string }): Promise<Error> {
  const error = await startServer(handler, { listen: '127.0.0.1:0', tls }).then(
    async (running) => {
      await running.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(isCodedError(error, 'config_invalid'), String(error)).toBe(true);
  const message = (error as Error).message;
  expect(message).not.toContain('\n');
  expect(message).not.toMatch(/routines|error:0/);
  return error as Error;
}

describe('startServer with TLS files', () => {
  it('serves HTTPS with a matching certificate and key', async () => {
    const running = await startServer(handler, { listen: '127.0.0.1:0', tls: pair('a') });
    try {
      expect(running.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await running.close();
    }
  });

  it('names DSTACK_REGISTRY_AUTH_TLS_CERT for a garbage certificate', async () => {
    const error = await refusal({ certFile: join(dir, 'garbage.pem'), keyFile: pair('a').keyFile });
    expect(error.message).toContain('DSTACK_REGISTRY_AUTH_TLS_CERT');
    expect(error.message).toContain('garbage.pem');
    expect(error.message).toContain('PEM certificate');
  });

  it('names DSTACK_REGISTRY_AUTH_TLS_KEY for a garbage key, without echoing a key', async () => {
    const error = await refusal({ certFile: pair('a').certFile, keyFile: join(dir, 'garbage.pem') });
    expect(error.message).toContain('DSTACK_REGISTRY_AUTH_TLS_KEY');
    expect(error.message).toContain('private key');
  });

  it('names both settings for a certificate and a key that do not belong together', async () => {
    const error = await refusal({ certFile: pair('a').certFile, keyFile: pair('b').keyFile });
    expect(error.message).toContain('DSTACK_REGISTRY_AUTH_TLS_CERT');
    expect(error.message).toContain('DSTACK_REGISTRY_AUTH_TLS_KEY');
    expect(error.message).toContain('not the private key');
    expect(error.message).not.toContain((await readFile(pair('b').keyFile, 'utf8')).split('\n')[1]!);
  });

  it('names the setting of a file that cannot be read', async () => {
    const error = await refusal({ certFile: join(dir, 'missing.crt'), keyFile: pair('a').keyFile });
    expect(error.message).toContain('DSTACK_REGISTRY_AUTH_TLS_CERT');
    expect(error.message).toContain('ENOENT');
  });
});

describe('startServer close', () => {
  it('does not wait out the grace for a keep-alive connection whose request finishes during it', async () => {
    // The request is in the handler when the stop begins; its answer is sent after, and the
    // connection then turns idle. The grace is ten minutes: waiting it out fails the test (timeout).
    let arrived!: (res: ServerResponse) => void;
    const inHandler = new Promise<ServerResponse>((resolve) => (arrived = resolve));
    const running = await startServer((_req, res) => arrived(res), { listen: '127.0.0.1:0' });
    const { Agent, get } = await import('node:http');
    const agent = new Agent({ keepAlive: true });
    const answered = new Promise<number>((resolve, reject) => {
      get(`${running.url}/`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      }).on('error', reject);
    });
    const res = await inHandler;
    const closed = running.close(600_000);
    res.end('ok');
    expect(await answered).toBe(200);
    await closed;
    agent.destroy();
  });
});
