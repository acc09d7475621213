import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/common/secret.ts';
import type { CredentialCache } from '../../../src/host/cache/credential-cache.ts';
import type { ServiceClient } from '../../../src/host/client/service-client.ts';
import { createEndpointPull } from '../../../src/host/mirror/endpoint-pull.ts';
import { fixedUpstreams } from '../../../src/host/mirror/upstream/upstream-source.ts';
import { parseUpstream } from '../../../src/host/mirror/upstream/upstream.ts';
import type { HelperSettings } from '../../../src/host/settings/settings.ts';
import { isCodedError } from '../../../src/common/errors.ts';
import { json, startFixtureUpstream, type FixtureUpstream } from '../../helpers/fixture-upstream.ts';

// The pull machinery that `mirror` and doctor's direct probe share (src/host/mirror/endpoint-pull.ts):
// an issuer registry's 401 sends the pull ticket to the dstack server's own realm, on another
// port than the registry. That realm is allowed because the settings name that server, and
// only then; before the wiring was shared, doctor's direct probe built its own and refused it.
const fixtures: FixtureUpstream[] = [];
afterEach(async () => {
  while (fixtures.length) await fixtures.pop()!.close();
});

const ticket = { kind: 'basic' as const, username: 'instance:i-1', secret: new Secret('ticket-xyz') };
const unused = { get: () => undefined, put: () => {}, erase: () => {} } as unknown as CredentialCache;

async function issuerRegistry() {
  const server = await startFixtureUpstream((req, res) => {
    if ((req.url ?? '').startsWith('/v1/token')) return json(res, 200, { token: 'registry-token-1', expires_in: 300 });
    return json(res, 404, {});
  });
  fixtures.push(server);
  const registry = await startFixtureUpstream((_req, res) =>
    json(res, 401, { errors: [] }, { 'www-authenticate': `Bearer realm="${server.url}/v1/token",service="registry"` }),
  );
  fixtures.push(registry);
  return { server, registry };
}

function pullFor(server: string) {
  return createEndpointPull({
    settings: { server, timeoutMs: 5_000, cacheDir: '/nonexistent' } as HelperSettings,
    log: { warn: () => {}, debug: () => {} },
    cache: unused,
    client: async () => ({}) as ServiceClient,
    upstreams: fixedUpstreams([]),
    responseTimeoutMs: 5_000,
  });
}

describe('the endpoint pull wiring', () => {
  it("lets the pull ticket go to the dstack server's realm, and to no other host", async () => {
    const { server, registry } = await issuerRegistry();
    const upstream = parseUpstream(registry.url);

    const ours = pullFor(server.url);
    try {
      expect(await ours.pull.auth.authorization(upstream, 'library/python', ticket)).toBe('Bearer registry-token-1');
    } finally {
      ours.close();
    }

    const elsewhere = pullFor('https://dstack.example');
    try {
      const error = await elsewhere.pull.auth.authorization(upstream, 'library/python', ticket).catch((e) => e);
      expect(isCodedError(error, 'realm_unbound'), String(error)).toBe(true);
      expect(String(error.message)).not.toContain('ticket-xyz');
    } finally {
      elsewhere.close();
    }
    expect(server.requests.filter((r) => r.url.startsWith('/v1/token'))).toHaveLength(1);
  });
});
