import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realmBound, realmHost } from '../../../src/registry/realm-binding.ts';
import { parseUpstream } from '../../../src/host/mirror/upstream/upstream.ts';
import { upstreamsFromHostConfig } from '../../../src/host/mirror/upstream/upstream-source.ts';
import { json, startFixtureUpstream, type FixtureUpstream } from '../../helpers/fixture-upstream.ts';
import { lineMatching, startInProcessMirror } from '../../helpers/in-process-mirror.ts';

// The pull credential goes only to a realm on the upstream's own host and port, or one listed
// for the upstream (issue 18, item 7): a 401 naming a realm elsewhere (here: another port on
// loopback, which counts as another host) gets no credential, and the pull fails naming it.
const DIGEST = `sha256:${'3'.repeat(64)}`;
const BASIC = `Basic ${Buffer.from('u:pw-secret-123').toString('base64')}`;
let realm: FixtureUpstream;
let upstream: FixtureUpstream;

beforeAll(async () => {
  realm = await startFixtureUpstream((req, res) => {
    if (req.headers.authorization !== BASIC) return json(res, 401, {});
    return json(res, 200, { token: 'registry-token-1', expires_in: 300 });
  });
  upstream = await startFixtureUpstream((req, res) => {
    if (req.headers.authorization !== 'Bearer registry-token-1') {
      return json(
        res,
        401,
        { errors: [{ code: 'UNAUTHORIZED' }] },
        { 'www-authenticate': `Bearer realm="${realm.url}/token",service="fixture"` },
      );
    }
    return json(res, 200, { schemaVersion: 2 }, { 'docker-content-digest': DIGEST });
  });
});
afterAll(async () => {
  await upstream?.close();
  await realm?.close();
});

describe('realm binding on the mirror endpoint', () => {
  it('sends no credential to a realm on another host:port that a 401 names; the pull fails with the realm in the log', async () => {
    const mirror = await startInProcessMirror([parseUpstream(upstream.url)], {
      username: 'u',
      secret: 'pw-secret-123',
    });
    try {
      const response = await fetch(`${mirror.url}/v2/app/manifests/1`);
      expect(response.status).toBe(502);
      const text = await response.text();
      expect(text).toContain(
        `the token realm ${realm.url}/token is not on the registry's host ${new URL(upstream.url).host} nor listed for it: the credential is not sent there`,
      );
      expect(text).not.toContain('pw-secret-123');
      expect(realm.requests).toHaveLength(0);
      const line = await lineMatching(mirror, /repository=app .*cause=realm_unbound/);
      expect(line).toContain(`${realm.url}/token`);
      expect(line).toContain('--upstream-realm');
    } finally {
      await mirror.close();
    }
  });

  it('a realm URL no credential may cross (plain http off loopback) fails the pull once-worded, upstream_realm, nothing sent', async () => {
    const plain = await startFixtureUpstream((_req, res) =>
      json(res, 401, { errors: [] }, { 'www-authenticate': 'Bearer realm="http://auth.remote.example/token"' }),
    );
    const mirror = await startInProcessMirror([parseUpstream(plain.url)], { username: 'u', secret: 'pw-secret-123' });
    try {
      const response = await fetch(`${mirror.url}/v2/app/manifests/1`);
      expect(response.status).toBe(502);
      const text = await response.text();
      expect(text).toContain('the token realm http://auth.remote.example/token is plain http');
      expect(text.split(`upstream ${plain.url}:`)).toHaveLength(2);
      expect(text).not.toContain('pw-secret-123');
      await lineMatching(mirror, /repository=app .*cause=upstream_realm/);
    } finally {
      await mirror.close();
      await plain.close();
    }
  });

  it('sends it to a realm listed for the upstream', async () => {
    const mirror = await startInProcessMirror([parseUpstream(upstream.url, { realms: [new URL(realm.url).host] })], {
      username: 'u',
      secret: 'pw-secret-123',
    });
    try {
      const response = await fetch(`${mirror.url}/v2/app/manifests/1`);
      expect(response.status).toBe(200);
      expect(realm.requests.some((r) => r.authorization === BASIC)).toBe(true);
    } finally {
      await mirror.close();
    }
  });

  it('lets an anonymous pull (no credential to send) use any realm', async () => {
    const before = realm.requests.length;
    const mirror = await startInProcessMirror([parseUpstream(upstream.url)]);
    try {
      await fetch(`${mirror.url}/v2/app/manifests/1`);
      expect(realm.requests.length).toBeGreaterThan(before);
      expect(realm.requests.slice(before).every((r) => r.authorization === undefined)).toBe(true);
    } finally {
      await mirror.close();
    }
  });
});

describe('realmBound', () => {
  it("compares host and port, takes listed hosts and Docker Hub's built-in realm", () => {
    expect(realmBound(new URL('https://harbor.example/service/token'), 'harbor.example')).toBe(true);
    expect(realmBound(new URL('https://harbor.example:443/service/token'), 'harbor.example')).toBe(true);
    expect(realmBound(new URL('https://harbor.example:8443/token'), 'harbor.example')).toBe(false);
    expect(realmBound(new URL('http://127.0.0.1:9000/token'), '127.0.0.1:5000')).toBe(false);
    expect(realmBound(new URL('https://evil.example/token'), 'harbor.example')).toBe(false);
    expect(realmBound(new URL('https://gitlab.example/jwt/auth'), 'registry.gitlab.example', ['gitlab.example'])).toBe(
      true,
    );
    expect(realmBound(new URL('https://auth.docker.io/token'), 'registry-1.docker.io')).toBe(true);
    expect(realmBound(new URL('https://auth.docker.io/token'), 'harbor.example')).toBe(false);
  });

  it('reads a realm host as host[:port] only', () => {
    expect(realmHost('Auth.Example:443')).toBe('auth.example');
    expect(realmHost('auth.example:8443')).toBe('auth.example:8443');
    expect(realmHost('https://auth.example')).toBeUndefined();
    expect(realmHost('u@auth.example')).toBeUndefined();
    expect(realmHost('auth.example/token')).toBeUndefined();
    expect(() => parseUpstream('https://harbor.example', { realms: ['https://x'] })).toThrow(
      /realm "https:\/\/x" is not a host\[:port\]/,
    );
  });
});

describe('realms from the host config', () => {
  it("an endpoint upstream's realms become its allow-list; a bad one drops that upstream with a warning", () => {
    const warnings: string[] = [];
    const log = { warn: (m: string) => warnings.push(m), debug: () => {} };
    const upstreams = upstreamsFromHostConfig(
      {
        mirrors: [],
        registries: [],
        endpoint: {
          enabled: true,
          upstreams: [
            {
              url: 'https://registry.gitlab.example',
              registry: 'registry.gitlab.example',
              library: 'keep',
              realms: ['gitlab.example'],
            },
            { url: 'https://other.example', registry: 'other.example', library: 'keep', realms: ['https://x/token'] },
          ],
        },
      },
      log,
    );
    expect(upstreams.map((u) => [u.url, u.realms])).toEqual([['https://registry.gitlab.example', ['gitlab.example']]]);
    expect(warnings.join('\n')).toMatch(/realm "https:\/\/x\/token" is not a host\[:port\]/);
  });
});
