import { describe, expect, it } from 'vitest';
import {
  readTokenAnswerFields,
  checkRealm,
  requestRealmToken,
  type RealmExchange,
} from '../../src/registry/token-realm.ts';
import { Secret } from '../../src/common/secret.ts';

describe('checkRealm', () => {
  const ok = (text: string, own = 'registry.example', listed: string[] = [], bound = true) =>
    checkRealm(text, own, listed, { bound });
  it('lets a credential go to https on the registry host or a listed one, plain http on loopback only', () => {
    expect(ok('https://registry.example/token?x=1')).toMatchObject({ ok: true });
    expect(ok('https://auth.example/token', 'registry.example', ['auth.example'])).toMatchObject({ ok: true });
    expect(ok('http://127.0.0.1:5001/token', '127.0.0.1:5001')).toMatchObject({ ok: true });
  });
  it.each([
    ['http://registry.example/token', 'plain_http', /is plain http: the credential would cross the network/],
    ['ftp://registry.example/token', 'not_http', /is not http\(s\)/],
    ['https://u:p@registry.example/token', 'credentials', /carries credentials in its URL/],
    ['https://auth.example/token', 'unbound', /not on the registry's host registry\.example nor listed/],
    ['not a url', 'not_url', /"not a url" is not a URL/],
    ['', 'not_url', /the challenge names no token realm/],
  ])('%s: %s', (text, problem, why) => {
    const checked = ok(text);
    expect(checked).toMatchObject({ ok: false, problem });
    expect(checked.ok ? '' : checked.why).toMatch(why);
    expect(checked.ok ? '' : checked.why).not.toContain('u:p');
  });
  it("an '@' before the query is user info, and no piece of it is shown", () => {
    const checked = ok('https://u:1234/pw-secret@registry.example/token');
    expect(checked).toMatchObject({ ok: false, problem: 'credentials' });
    expect(JSON.stringify(checked)).not.toContain('pw-secret');
    const notUrl = ok('https://u:pw-secret@[bad/token');
    expect(notUrl).toMatchObject({ ok: false, problem: 'not_url' });
    expect(JSON.stringify(notUrl)).not.toContain('pw-secret');
  });
  it('an anonymous request checks only the URL', () => {
    expect(ok('https://auth.example/token', 'registry.example', [], false)).toMatchObject({ ok: true });
    expect(ok('http://auth.example/token', 'registry.example', [], false)).toMatchObject({ problem: 'plain_http' });
  });
});

describe('readTokenAnswerFields', () => {
  it('takes token, else access_token, and hands expires_in and issued_at over as given', () => {
    expect(
      readTokenAnswerFields('{"token":"t","access_token":"a","expires_in":300,"issued_at":"2026-11-29T00:00:00Z"}'),
    ).toEqual({ token: 't', expiresIn: 300, issuedAt: '2026-11-29T00:00:00Z' });
    expect(readTokenAnswerFields('{"token":"","access_token":"a"}')).toEqual({
      token: 'a',
      expiresIn: undefined,
      issuedAt: undefined,
    });
  });
  it.each(['', 'null', '[]', '"t"', '{"token":""}', '{"access_token":""}', '{"token":5}'])(
    '%s is no token answer',
    (body) => {
      expect(readTokenAnswerFields(body)).toBeUndefined();
    },
  );
});

// The token request both halves make; the transport is theirs (tested with their own HTTP in
// upstream-auth.test.ts and the broker's tests), here a list of what a realm would answer.
describe('requestRealmToken', () => {
  const realm = new URL('https://auth.example/token');
  const credential = { username: 'robot$ci', secret: new Secret('pa/ss@word') };
  function realmAnswering(...answers: { status: number; body?: string }[]) {
    const seen: RealmExchange[] = [];
    const transport = async (exchange: RealmExchange) => {
      seen.push(exchange);
      const answer = answers.shift() ?? { status: 500 };
      return { status: answer.status, body: answer.body ?? '' };
    };
    return { seen, transport };
  }
  const request = { realm, service: 'reg', scope: 'repository:a/b:pull', credential, clientId: 'me' };

  it('GET with Basic auth, service, scope and account; the 200 answer read', async () => {
    const { seen, transport } = realmAnswering({ status: 200, body: '{"token":"t1","expires_in":120}' });
    expect(await requestRealmToken(transport, request)).toEqual({
      ok: true,
      method: 'GET',
      fields: { token: 't1', expiresIn: 120, issuedAt: undefined },
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url.toString()).toBe(
      'https://auth.example/token?service=reg&scope=repository%3Aa%2Fb%3Apull&account=robot%24ci',
    );
    expect(seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from('robot$ci:pa/ss@word').toString('base64')}`);
  });

  it.each([404, 405])('GET refused with %i: the password grant as a POST form', async (status) => {
    const { seen, transport } = realmAnswering({ status }, { status: 200, body: '{"access_token":"t2"}' });
    const result = await requestRealmToken(transport, request);
    expect(result).toMatchObject({ ok: true, method: 'POST', fields: { token: 't2' } });
    expect(seen.map((e) => e.method)).toEqual(['GET', 'POST']);
    expect(seen[1]!.url.toString()).toBe('https://auth.example/token');
    expect(seen[1]!.headers).toEqual({ 'content-type': 'application/x-www-form-urlencoded' });
    expect(Object.fromEntries(new URLSearchParams(seen[1]!.body))).toEqual({
      grant_type: 'password',
      username: 'robot$ci',
      password: 'pa/ss@word',
      client_id: 'me',
      access_type: 'online',
      scope: 'repository:a/b:pull',
      service: 'reg',
    });
  });

  it('postFirst asks POST first and falls back to GET on 405', async () => {
    const { seen, transport } = realmAnswering({ status: 405 }, { status: 200, body: '{"token":"t3"}' });
    expect(await requestRealmToken(transport, { ...request, postFirst: true })).toMatchObject({
      ok: true,
      method: 'GET',
    });
    expect(seen.map((e) => e.method)).toEqual(['POST', 'GET']);
  });

  it('anonymous: one GET without Authorization or account, never a password grant', async () => {
    const { seen, transport } = realmAnswering({ status: 405 });
    const { credential: _none, ...anonymous } = request;
    expect(await requestRealmToken(transport, anonymous)).toEqual({
      ok: false,
      kind: 'failed',
      method: 'GET',
      status: 405,
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers).toEqual({});
    expect(seen[0]!.url.searchParams.has('account')).toBe(false);
  });

  it.each([
    [401, 'refused'],
    [403, 'refused'],
    [500, 'failed'],
    [400, 'failed'],
  ] as const)('HTTP %i ends it as %s, without trying the other form', async (status, kind) => {
    const { seen, transport } = realmAnswering({ status });
    expect(await requestRealmToken(transport, request)).toEqual({ ok: false, kind, method: 'GET', status });
    expect(seen).toHaveLength(1);
  });

  it('a 200 without a token is a failure, not a token', async () => {
    const { transport } = realmAnswering({ status: 200, body: '{"token":""}' });
    expect(await requestRealmToken(transport, request)).toEqual({
      ok: false,
      kind: 'failed',
      method: 'GET',
      status: 200,
    });
  });
});
