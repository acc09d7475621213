import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basicCredentials, bearerToken, readBody, sendError } from '../../src/server/http-io.ts';
import { isCodedError } from '../../src/shared/errors.ts';

let server: Server;
let url: string;
let seen: { bearer?: string; basic?: { username: string; password: string }; body?: string; error?: string };
beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    seen = { bearer: bearerToken(req), basic: basicCredentials(req) };
    readBody(req, 10).then(
      (body) => {
        seen.body = body.toString();
        sendError(res, 418, 'teapot', 'line one\nline two');
      },
      (error: unknown) => {
        seen.error = isCodedError(error) ? error.code : 'other';
        sendError(res, 413, 'payload_too_large', 'too big');
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('http-io', () => {
  it('parses bearer and basic authorization, and nothing else', async () => {
    await fetch(url, { headers: { authorization: 'Bearer abc.def.ghi' } });
    expect(seen.bearer).toBe('abc.def.ghi');
    await fetch(url, { headers: { authorization: `Basic ${Buffer.from('instance:i-1:pass:word').toString('base64')}` } });
    expect(seen).toMatchObject({ bearer: undefined, basic: { username: 'instance', password: 'i-1:pass:word' } });
    await fetch(url, { headers: { authorization: 'Bearer two tokens' } });
    expect(seen.bearer).toBeUndefined();
    await fetch(url, { headers: { authorization: `Basic ${Buffer.from('nocolon').toString('base64')}` } });
    expect(seen.basic).toBeUndefined();
  });

  it('reads a body up to the limit and refuses more with payload_too_large', async () => {
    const ok = await fetch(url, { method: 'POST', body: '0123456789' });
    expect(ok.status).toBe(418);
    expect(await ok.json()).toEqual({ error: 'teapot', message: 'line one line two' });
    expect(seen.body).toBe('0123456789');
    const big = await fetch(url, { method: 'POST', body: '01234567890' });
    expect(big.status).toBe(413);
    expect(seen.error).toBe('payload_too_large');
  });
});
