import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  discoverRealm,
  DiscoveryFailed,
  NotBrokerable,
} from '../../../../src/service/sources/broker/discover-realm.ts';
import { upstreamRequest, UpstreamUnreachable } from '../../../../src/service/sources/broker/upstream-request.ts';

// A stand-in registry on loopback whose answer to GET /v2/ each test sets.
let answer: { status: number; challenge?: string; hang?: boolean } = { status: 401 };
let hits = 0;
let server: Server;
let url: string;
const fast = { attempts: 2, attemptTimeoutMs: 300, deadlineMs: 2_000, baseDelayMs: 10 };

beforeAll(async () => {
  server = createServer((_req, res) => {
    hits++;
    if (answer.hang) return; // never answers
    res.writeHead(answer.status, answer.challenge ? { 'www-authenticate': answer.challenge } : {}).end('{"errors":[]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function outcome(set: typeof answer, realms: string[] = ['auth.example', '127.0.0.1:9']): Promise<unknown> {
  answer = set;
  hits = 0;
  return discoverRealm('r.example', url, fast, realms).catch((error: unknown) => error);
}

describe('realm discovery (GET /v2/)', () => {
  it('reads realm and service from a Bearer challenge', async () => {
    expect(
      await outcome({ status: 401, challenge: 'Bearer realm="https://auth.example/token",service="registry.example"' }),
    ).toEqual({ realm: 'https://auth.example/token', service: 'registry.example' });
    expect(await outcome({ status: 401, challenge: 'Bearer realm="http://127.0.0.1:9/token"' })).toEqual({
      realm: 'http://127.0.0.1:9/token',
    });
  });

  it("takes a realm on the registry's own host and port unlisted, and refuses one elsewhere that is not listed (another port counts)", async () => {
    const own = `${url}/token`;
    expect(await outcome({ status: 401, challenge: `Bearer realm="${own}"` }, [])).toEqual({ realm: own });
    for (const realm of ['https://auth.example/token', 'http://127.0.0.1:9/token']) {
      const error = await outcome({ status: 401, challenge: `Bearer realm="${realm}"` }, []);
      expect(error).toBeInstanceOf(NotBrokerable);
      expect((error as Error).message).toBe(
        `registry r.example (source broker): GET ${url}/v2/: the token realm ${realm} is not on the registry's host ${new URL(url).host} nor listed for it: the credential is not sent there; if it is the registry's own realm, list ${new URL(realm).host} in the registry's realms (the config file's realms, or DSTACK_REGISTRY_AUTH_DEFAULT_REALMS for the default registry)`,
      );
    }
    expect(
      await outcome({ status: 401, challenge: 'Bearer realm="https://auth.example/token"' }, ['auth.example']),
    ).toEqual({ realm: 'https://auth.example/token' });
  });

  it('refuses, for good, a registry with Basic auth, no challenge, a plain-http realm off loopback, or no registry API', async () => {
    const cases: [typeof answer, RegExp][] = [
      [
        { status: 401, challenge: 'Basic realm="Registry"' },
        /GET http:\/\/127\.0\.0\.1:\d+\/v2\/ asks for basic auth: there is no token realm to trade the password at; use source static .* issuer realm/,
      ],
      [{ status: 200 }, /answered HTTP 200 without a token challenge/],
      [
        { status: 401, challenge: 'Bearer realm="http://auth.example/token"' },
        /: the token realm http:\/\/auth\.example\/token is plain http: the credential would cross the network in clear text; serve the realm over https/,
      ],
      [
        { status: 401, challenge: 'Bearer realm="https://user:pw@auth.example/token"' },
        /: the token realm carries credentials in its URL; fix the registry's auth configuration/,
      ],
      [
        { status: 401, challenge: 'Bearer service="x"' },
        /: the challenge names no token realm; fix the registry's auth configuration/,
      ],
      [{ status: 404 }, /answered HTTP 404: not a registry API; check the registry's upstream URL/],
    ];
    for (const [set, message] of cases) {
      const error = await outcome(set);
      expect(error, JSON.stringify(set)).toBeInstanceOf(NotBrokerable);
      expect((error as Error).message).toMatch(/^registry r\.example \(source broker\): /);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('pw@');
    }
  });

  it('calls a 5xx or a registry that does not answer in time a passing failure, after retrying', async () => {
    const down = await outcome({ status: 503 });
    expect(down).toBeInstanceOf(DiscoveryFailed);
    expect((down as DiscoveryFailed).why).toMatch(/answered HTTP 503$/);
    expect(hits).toBe(2);
    const started = Date.now();
    const hung = await outcome({ status: 200, hang: true });
    expect(hung).toBeInstanceOf(DiscoveryFailed);
    expect((hung as DiscoveryFailed).why).toMatch(/failed \(timeout, 2 attempts\)$/);
    expect(Date.now() - started).toBeLessThan(fast.deadlineMs + fast.attemptTimeoutMs + 500);
  });

  it('retries a refused connection up to its attempts and reports it by its code, not by a message that could quote the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await upstreamRequest(`http://127.0.0.1:${port}/v2/`, () => ({ method: 'GET' }), {
      attempts: 5,
      attemptTimeoutMs: 200,
      deadlineMs: 1_000,
      baseDelayMs: 10,
    }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UpstreamUnreachable);
    expect((refused as UpstreamUnreachable).why).toBe('ECONNREFUSED');
    expect((refused as UpstreamUnreachable).attempts).toBe(5);
  });
});
