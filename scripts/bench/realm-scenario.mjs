// The token realm scenario for `npm run bench:server` (scripts/bench/server.mjs runs it next
// to the credential endpoint, against the same floor): a runner host's pull ticket from
// POST /v1/credentials, then GET /v1/token as dockerd asks it (Basic auth, service, one pull
// scope). Every answer is a fresh ES256 registry token, so a request costs one ticket
// verification (Ed25519), one revocation lookup and one signature.
const REGISTRY = 'registry.bench.example';

// Settings the benchmarked `serve` needs so that the registry uses the issuer source.
export function realmServiceEnv(registry = REGISTRY) {
  return {
    DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: registry,
    DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'issuer',
  };
}

// One scenario in the shape server.mjs's SCENARIOS table uses.
export const realmScenario = {
  name: 'GET /v1/token (realm, ticket)',
  serviceEnv: () => realmServiceEnv(REGISTRY),
  prepare: async ({ baseUrl, instanceToken }) => {
    const res = await fetch(`${baseUrl}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${instanceToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ registry: REGISTRY }),
    });
    if (res.status !== 200)
      throw new Error(`realm scenario: POST /v1/credentials → HTTP ${res.status} ${await res.text()}`);
    const { username, secret, source } = await res.json();
    if (source !== 'issuer') throw new Error(`realm scenario: ${REGISTRY} uses the ${source} source, not issuer`);
    const query = new URLSearchParams({ service: REGISTRY, scope: 'repository:library/python:pull' });
    return {
      method: 'GET',
      path: `/v1/token?${query}`,
      headers: { authorization: `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}` },
    };
  },
};
