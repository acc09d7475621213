// The token realm scenario for `npm run bench:server` (scripts/bench/server.mjs imports it):
// a runner host's pull ticket from POST /v1/credentials, then GET /v1/token as dockerd asks
// it (Basic auth, service, one pull scope), `requests` times with `concurrency` in flight.
// Each answer is a fresh ES256 registry token, so this measures ticket verification, the
// revocation lookup and one signature per request.

// Settings the benchmarked `serve` needs so that `registry` uses the issuer source.
export function realmServiceEnv(registry) {
  return {
    DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: registry,
    DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'issuer',
  };
}

export async function runRealmScenario({ baseUrl, instanceToken, registry, requests = 2000, concurrency = 16 }) {
  const credential = await fetch(`${baseUrl}/v1/credentials`, {
    method: 'POST',
    headers: { authorization: `Bearer ${instanceToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ registry }),
  });
  if (credential.status !== 200) throw new Error(`realm scenario: POST /v1/credentials → HTTP ${credential.status} ${await credential.text()}`);
  const { username, secret, source } = await credential.json();
  if (source !== undefined && source !== 'issuer') throw new Error(`realm scenario: ${registry} uses the ${source} source; start serve with realmServiceEnv()`);
  const authorization = `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}`;
  const url = `${baseUrl}/v1/token?${new URLSearchParams({ service: registry, scope: 'repository:library/python:pull' })}`;
  const one = async () => {
    const started = performance.now();
    const res = await fetch(url, { headers: { authorization } });
    const body = await res.json();
    if (res.status !== 200 || typeof body.token !== 'string') throw new Error(`realm scenario: GET /v1/token → HTTP ${res.status}`);
    return performance.now() - started;
  };
  for (let i = 0; i < Math.min(50, requests); i++) await one(); // warm-up
  const latencies = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < requests) {
      next++;
      latencies.push(await one());
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { name: 'realm GET /v1/token', requests, concurrency, perSecond: requests / seconds, p50Ms: at(0.5), p99Ms: at(0.99) };
}
