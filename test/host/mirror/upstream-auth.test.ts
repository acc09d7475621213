import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/common/secret.ts';
import { createUpstreamAuth } from '../../../src/host/mirror/upstream/upstream-auth.ts';
import { createUpstreamHttp } from '../../../src/host/mirror/upstream/upstream-http.ts';
import { parseUpstream } from '../../../src/host/mirror/upstream/upstream.ts';
import { json, startFixtureUpstream, type FixtureUpstream } from '../../helpers/fixture-upstream.ts';

const basic = { kind: 'basic' as const, username: 'instance:i-1', secret: new Secret('ticket-xyz') };
const BASIC_HEADER = `Basic ${Buffer.from('instance:i-1:ticket-xyz').toString('base64')}`;
const fixtures: FixtureUpstream[] = [];
const http = createUpstreamHttp({ responseTimeoutMs: 5000, exchangeTimeoutMs: 5000 });
afterEach(async () => {
  while (fixtures.length) await fixtures.pop()!.close();
});

// A registry whose /v2/ challenges with `challenge`, and a realm at /token answering with
// `token(request)`; `getAllowed: false` makes the realm refuse GET with 405 (POST only).
async function registryWithRealm(
  options: { challenge?: (realm: string) => string; getAllowed?: boolean; expiresIn?: number; refuse?: boolean } = {},
) {
  let realmUrl = '';
  let issued = 0;
  const fixture = await startFixtureUpstream((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v2/')
      return json(
        res,
        401,
        { errors: [] },
        {
          'www-authenticate': options.challenge
            ? options.challenge(realmUrl)
            : `Bearer realm="${realmUrl}",service="fixture-registry"`,
        },
      );
    if (url.pathname === '/token') {
      if (req.method === 'GET' && options.getAllowed === false) return json(res, 405, {});
      if (options.refuse) return json(res, 401, { details: 'bad password' });
      issued++;
      return json(res, 200, { token: `registry-token-${issued}`, expires_in: options.expiresIn ?? 300 });
    }
    return json(res, 404, {});
  });
  realmUrl = `${fixture.url}/token`;
  fixtures.push(fixture);
  return {
    fixture,
    upstream: parseUpstream(fixture.url),
    realmRequests: () => fixture.requests.filter((r) => r.url.startsWith('/token')),
  };
}

describe('upstream auth', () => {
  it('Bearer: the token dance with GET + Basic, service and scope; one token per scope, cached', async () => {
    const { upstream, realmRequests, fixture } = await registryWithRealm();
    const auth = createUpstreamAuth({ http });
    const all = await Promise.all([1, 2, 3].map(() => auth.authorization(upstream, 'library/python', basic)));
    expect(all).toEqual(['Bearer registry-token-1', 'Bearer registry-token-1', 'Bearer registry-token-1']);
    expect(await auth.authorization(upstream, 'library/redis', basic)).toBe('Bearer registry-token-2');
    expect(await auth.authorization(upstream, 'library/python', basic)).toBe('Bearer registry-token-1');
    expect(fixture.requests.filter((r) => r.url === '/v2/')).toHaveLength(1);
    expect(realmRequests().map((r) => [r.method, r.url, r.authorization])).toEqual([
      [
        'GET',
        '/token?service=fixture-registry&scope=repository%3Alibrary%2Fpython%3Apull&account=instance%3Ai-1',
        BASIC_HEADER,
      ],
      [
        'GET',
        '/token?service=fixture-registry&scope=repository%3Alibrary%2Fredis%3Apull&account=instance%3Ai-1',
        BASIC_HEADER,
      ],
    ]);
  });

  it('a token is given up shortly before it expires', async () => {
    const { upstream, realmRequests } = await registryWithRealm({ expiresIn: 60 });
    let now = 1_000_000;
    const auth = createUpstreamAuth({ http, now: () => now });
    expect(await auth.authorization(upstream, 'a/b', basic)).toBe('Bearer registry-token-1');
    now += 44_000;
    expect(await auth.authorization(upstream, 'a/b', basic)).toBe('Bearer registry-token-1');
    now += 2_000; // within the last quarter of its 60 s
    expect(await auth.authorization(upstream, 'a/b', basic)).toBe('Bearer registry-token-2');
    expect(realmRequests()).toHaveLength(2);
  });

  it("a realm's short expires_in is kept as it is (the broker's rule, src/registry/token-answer.ts), not raised to 60 s", async () => {
    const { upstream, realmRequests } = await registryWithRealm({ expiresIn: 10 });
    let now = 1_000_000;
    const auth = createUpstreamAuth({ http, now: () => now });
    expect(await auth.authorization(upstream, 'a/b', basic)).toBe('Bearer registry-token-1');
    now += 7_000;
    expect(await auth.authorization(upstream, 'a/b', basic)).toBe('Bearer registry-token-1');
    now += 1_000; // within the last quarter of its 10 s
    expect(await auth.authorization(upstream, 'a/b', basic)).toBe('Bearer registry-token-2');
    expect(realmRequests()).toHaveLength(2);
  });

  it('a realm that refuses GET gets the OAuth2 password grant as a POST form', async () => {
    const { upstream, realmRequests } = await registryWithRealm({ getAllowed: false });
    const auth = createUpstreamAuth({ http });
    expect(await auth.authorization(upstream, 'library/python', basic)).toBe('Bearer registry-token-1');
    const post = realmRequests().find((r) => r.method === 'POST')!;
    expect(Object.fromEntries(new URLSearchParams(post.body))).toEqual({
      grant_type: 'password',
      username: 'instance:i-1',
      password: 'ticket-xyz',
      client_id: 'docker-credential-dstack',
      access_type: 'online',
      service: 'fixture-registry',
      scope: 'repository:library/python:pull',
    });
    expect(post.authorization).toBeUndefined();
  });

  it('a realm that refuses the credential is credential_refused, naming the realm, never the secret', async () => {
    const { upstream } = await registryWithRealm({ refuse: true });
    const failure = (await createUpstreamAuth({ http })
      .authorization(upstream, 'a/b', basic)
      .then(
        () => undefined,
        (e: unknown) => e,
      )) as Error & { code: string };
    expect(failure.code).toBe('credential_refused');
    expect(failure.message).toMatch(
      /^the token realm http:\/\/127\.0\.0\.1:\d+\/token refused the credential \(HTTP 401\)$/,
    );
  });

  it('Basic: the credential as Basic auth; no credential: nothing; an open registry: nothing', async () => {
    const { upstream } = await registryWithRealm({ challenge: () => 'Basic realm="x"' });
    const auth = createUpstreamAuth({ http });
    expect(await auth.authorization(upstream, 'a/b', basic)).toBe(BASIC_HEADER);
    expect(await auth.authorization(upstream, 'a/b', undefined)).toBeUndefined();
    const open = await startFixtureUpstream((_req, res) => json(res, 200, {}));
    fixtures.push(open);
    expect(await auth.authorization(parseUpstream(open.url), 'a/b', basic)).toBeUndefined();
  });

  it('no credential against a Bearer realm: an anonymous token (GET without Authorization)', async () => {
    const { upstream, realmRequests } = await registryWithRealm();
    expect(await createUpstreamAuth({ http }).authorization(upstream, 'library/python', undefined)).toBe(
      'Bearer registry-token-1',
    );
    expect(realmRequests()[0]!.authorization).toBeUndefined();
  });

  it('a registry token from the service goes upstream as is, without asking anyone', async () => {
    const { fixture, upstream } = await registryWithRealm();
    expect(
      await createUpstreamAuth({ http }).authorization(upstream, 'a/b', {
        kind: 'bearer',
        token: new Secret('brokered'),
        repository: 'a/b',
      }),
    ).toBe('Bearer brokered');
    expect(fixture.requests).toHaveLength(0);
  });

  it('after a 401 the token of that scope is forgotten and the new challenge learnt', async () => {
    const { upstream, realmRequests } = await registryWithRealm();
    const auth = createUpstreamAuth({ http });
    expect(await auth.authorization(upstream, 'a/b', basic)).toBe('Bearer registry-token-1');
    auth.refused(upstream, 'a/b', undefined);
    expect(await auth.authorization(upstream, 'a/b', basic)).toBe('Bearer registry-token-2');
    auth.refused(upstream, 'a/b', 'Basic realm="changed"');
    expect(await auth.authorization(upstream, 'a/b', basic)).toBe(BASIC_HEADER);
    expect(realmRequests()).toHaveLength(2);
  });
});

describe('shared ping and token fetch', () => {
  it('a ping that never ends fails every waiting pull by its deadline and is not kept: the next pull pings again', async () => {
    let pings = 0;
    const hung = {
      exchange: () => {
        pings++;
        return new Promise<never>(() => {});
      },
      open: () => {
        throw new Error('unused');
      },
      close() {},
    };
    const auth = createUpstreamAuth({ http: hung, sharedDeadlineMs: 50 });
    const upstream = parseUpstream('http://127.0.0.1:1');
    const both = await Promise.allSettled([auth.challengeOf(upstream), auth.challengeOf(upstream)]);
    expect(both.map((r) => r.status === 'rejected' && (r.reason as Error).message)).toEqual([
      'the challenge ping to http://127.0.0.1:1/v2/ did not finish within 0.05 s',
      'the challenge ping to http://127.0.0.1:1/v2/ did not finish within 0.05 s',
    ]);
    await expect(auth.challengeOf(upstream)).rejects.toThrow(/did not finish/);
    expect(pings).toBe(2);
  });
});
