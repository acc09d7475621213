// The broker scenario for `npm run bench:server`: POST /v1/credentials with a repository for a
// registry of source broker, answered from the service's token cache (warm: the realm is asked
// once, before the measurement). Against the same floor as the other scenarios. The registry
// and its realm are a stand-in in this process: `GET /v2/` challenges with Bearer, `GET /token`
// answers an opaque token for 5 minutes and counts how often it was asked.
import { createServer } from 'node:http';

const REPOSITORY = 'library/python';

export const brokerScenario = {
  name: 'POST /v1/credentials (broker, warm)',
  // Starts the stand-in registry + realm; returns the service settings and a stop.
  setup: async () => {
    let tokenRequests = 0;
    const server = createServer((req, res) => {
      const base = `http://127.0.0.1:${server.address().port}`;
      if (req.url === '/v2/') {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="${base}/token",service="bench-registry"`,
          'content-type': 'application/json',
        });
        res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      } else if (req.url.startsWith('/token?')) {
        tokenRequests++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            token: `bench-opaque-token-${tokenRequests}`,
            expires_in: 300,
            issued_at: new Date().toISOString(),
          }),
        );
      } else res.writeHead(404).end();
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${server.address().port}`;
    return {
      env: {
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: host,
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'bench-user',
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: 'bench-password',
        DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'broker',
      },
      registry: host,
      note: () => `realm asked ${tokenRequests}×`,
      stop: () =>
        new Promise((resolve) => {
          server.closeAllConnections();
          server.close(resolve);
        }),
    };
  },
  prepare: async ({ baseUrl, instanceToken, backend }) => {
    const spec = {
      method: 'POST',
      path: '/v1/credentials',
      headers: { authorization: `Bearer ${instanceToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ registry: backend.registry, repository: REPOSITORY }),
    };
    // Warm the cache: the one realm request of the run.
    const res = await fetch(`${baseUrl}${spec.path}`, { method: spec.method, headers: spec.headers, body: spec.body });
    const answer = await res.json();
    if (res.status !== 200 || answer.kind !== 'bearer')
      throw new Error(`broker scenario: POST /v1/credentials → HTTP ${res.status} ${JSON.stringify(answer)}`);
    return spec;
  },
};
