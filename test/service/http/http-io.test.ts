import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { basicCredentials, bearerToken, readBody, sendError } from '../../../src/service/http/http-io.ts';
import { isCodedError } from '../../../src/common/errors.ts';

let server: Server;
let url: string;
let seen: {
  bearer?: string;
  basic?: { username: string; password: string } | 'malformed';
  body?: string;
  error?: string;
};
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
    await fetch(url, {
      headers: { authorization: `Basic ${Buffer.from('instance:i-1:pass:word').toString('base64')}` },
    });
    expect(seen).toMatchObject({ bearer: undefined, basic: { username: 'instance', password: 'i-1:pass:word' } });
    await fetch(url, { headers: { authorization: 'Bearer two tokens' } });
    expect(seen.bearer).toBeUndefined();
    await fetch(url, { headers: { authorization: `Basic ${Buffer.from('nocolon').toString('base64')}` } });
    expect(seen.basic).toBe('malformed');
    await fetch(url, { headers: { authorization: 'Basic %%%' } });
    expect(seen.basic).toBe('malformed');
    await fetch(url);
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

describe('readBody listeners', () => {
  it('drops its close listener once the body is complete (no error built per request), and still fails a body cut off', async () => {
    const outcomes: Array<{ closeListenersBefore: number; closeListenersAtEnd?: number; error?: string }> = [];
    const settled: Array<() => void> = [];
    let onFirstChunk: (() => void) | undefined;
    const local = createServer((req, res) => {
      req.once('data', () => onFirstChunk?.());
      const outcome: (typeof outcomes)[number] = { closeListenersBefore: req.listenerCount('close') };
      outcomes.push(outcome);
      readBody(req, 1000).then(
        () => {
          res.end('ok');
          settled.shift()?.();
        },
        (error: unknown) => {
          outcome.error = isCodedError(error) ? error.code : 'other';
          settled.shift()?.();
        },
      );
      // Runs right after readBody's own 'end' handler.
      req.once('end', () => {
        outcome.closeListenersAtEnd = req.listenerCount('close');
      });
    });
    await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
    const port = (local.address() as AddressInfo).port;
    try {
      const complete = new Promise<void>((resolve) => settled.push(resolve));
      expect((await fetch(`http://127.0.0.1:${port}`, { method: 'POST', body: '{"a":1}' })).status).toBe(200);
      await complete;
      expect(outcomes[0]!.closeListenersAtEnd).toBe(outcomes[0]!.closeListenersBefore);

      const cutOff = new Promise<void>((resolve) => settled.push(resolve));
      // The client goes away once the server holds part of the body: that event, not a delay.
      const partReceived = new Promise<void>((resolve) => (onFirstChunk = resolve));
      const socket = connect(port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.write('POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"part');
      await partReceived;
      socket.destroy();
      await cutOff;
      // Settled as a failure ('aborted' or bad_request, whichever event comes first), not left hanging.
      expect(outcomes[1]!.error).toMatch(/^(other|bad_request)$/);
      expect(outcomes[1]!.closeListenersAtEnd).toBeUndefined();
    } finally {
      await new Promise<void>((resolve) => local.close(() => resolve()));
    }
  });
});
