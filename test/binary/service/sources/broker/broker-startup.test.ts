import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { startService, type Service } from '../../../../helpers/built-service.ts';
import { SERVICE_BINARY } from '../../../../helpers/ensure-packages.ts';
import { writeHtpasswd } from '../../../../helpers/htpasswd.ts';
import { dockerRegistryAvailable, startRegistry } from '../../../../helpers/registry.ts';
import {
  dockerHubBrokerEnv,
  realmHostOf,
  startBrokeredRegistry,
  type BrokeredRegistry,
} from '../../../../helpers/brokered-registry.ts';
import { freeLoopbackPort } from '../../../../helpers/free-port.ts';
import { DOCKER_HUB_KEY } from '../../../../../src/registry/registry-key.ts';

// Start-up of a service with brokered registries: the realm discovery decides whether it
// starts (Basic-only registry: no), and what happens when a registry is down (it starts, and
// asks again at the first request). Plus the Docker Hub case, against the fixture.
const available = dockerRegistryAvailable();

let dir: string;
const stops: (() => Promise<void>)[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'broker-startup-'));
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function credentials(service: Service, token: string, body: Record<string, unknown>) {
  const res = await fetch(`${service.url}/v1/credentials`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}

describe.skipIf(!available)('broker source at start-up', () => {
  it('refuses to start with one line and exit 2 when a brokered registry answers Basic (htpasswd)', async () => {
    const account = await writeHtpasswd(join(dir, 'htpasswd'), 'basic-user');
    const registry = await startRegistry({
      dir: join(dir, 'basic'),
      auth: { htpasswd: { realm: 'basic-realm', path: join(dir, 'htpasswd') } },
    });
    stops.push(() => registry.stop());
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: registry.host,
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: account.username,
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: account.password,
      DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'broker',
    };
    const result = await execa(
      SERVICE_BINARY,
      ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'basic-data')],
      { env, extendEnv: false, reject: false, timeout: 30_000 },
    );
    expect(result.exitCode).toBe(2);
    expect(result.stderr.split('\n')).toEqual([
      `dstack-registry-auth: registry ${registry.host} (source broker): GET ${registry.url}/v2/ asks for basic auth: there is no token realm to trade the password at; use source static (the password then reaches the runner hosts) or put the registry behind this service's issuer realm (docs/issuer.md)`,
    ]);
    expect(result.stderr).not.toContain(account.password);
  });

  it('starts with a warning when a brokered registry is down, and discovers its realm at the first request after it is back', async () => {
    const port = await freeLoopbackPort();
    const realmPort = await freeLoopbackPort();
    const service = await startService({
      dir: join(dir, 'late'),
      env: { LATE_PASSWORD: 'not-yet-known' },
      configFile: {
        registries: [
          {
            registry: `127.0.0.1:${port}`,
            source: 'broker',
            username: 'fleet-bot',
            passwordEnv: 'LATE_PASSWORD',
            realms: [`127.0.0.1:${realmPort}`],
          },
        ],
      },
    });
    stops.push(() => service.stop());
    expect(await service.stderr()).toMatch(
      new RegExp(
        `warning: registry 127\\.0\\.0\\.1:${port} \\(source broker\\): GET http://127\\.0\\.0\\.1:${port}/v2/ failed \\(ECONNREFUSED, 2 attempts\\); starting without its token realm`,
      ),
    );
    const token = await service.issueToken({ instance: 'i-late' });
    const down = await credentials(service, token, { registry: `127.0.0.1:${port}`, repository: 'library/python' });
    expect(down.status).toBe(503);
    expect(down.json.error).toBe('unavailable');
    expect(await service.stderr()).toContain(
      `unavailable: registry 127.0.0.1:${port} (source broker): GET http://127.0.0.1:${port}/v2/ failed (ECONNREFUSED`,
    );

    // The registry comes up on that port, with an account whose password the service does not
    // know: discovery now succeeds and the realm's refusal is a 503 naming the account.
    const upstream = await startBrokeredRegistry({
      dir: join(dir, 'late-registry'),
      port,
      images: ['library/python:3.14'],
      tokenServer: { port: realmPort },
    });
    stops.push(() => upstream.stop());
    const refused = await credentials(service, token, { registry: `127.0.0.1:${port}`, repository: 'library/python' });
    expect(refused.status).toBe(503);
    expect(await service.stderr()).toMatch(
      /answered HTTP 401 \(1 attempt\); the realm refused account fleet-bot: check its password or access token/,
    );
    expect(upstream.tokenServer.requests.map((r) => r.status)).toEqual([401]);
  });

  describe('Docker Hub credentials without a default registry, source broker', () => {
    let upstream: BrokeredRegistry;
    let service: Service;
    beforeAll(async () => {
      upstream = await startBrokeredRegistry({ dir: join(dir, 'hub'), images: ['library/python:3.14'] });
      stops.push(() => upstream.stop());
      // Docker Hub's API host is https://registry-1.docker.io; the test points it at the fixture.
      service = await startService({
        dir: join(dir, 'hub-svc'),
        env: dockerHubBrokerEnv(upstream),
      });
      stops.push(() => service.stop());
    });

    it('trades the account at the realm for the Docker Hub key, and hosts get Docker Hub (here: the fixture) as the endpoint upstream', async () => {
      const token = await service.issueToken({ instance: 'i-hub' });
      const hostConfig = await (
        await fetch(`${service.url}/v1/host-config`, { headers: { authorization: `Bearer ${token}` } })
      ).json();
      expect(hostConfig).toEqual({
        mirrors: [],
        registries: [DOCKER_HUB_KEY],
        endpoint: {
          enabled: true,
          upstreams: [
            { url: upstream.registry.url, registry: DOCKER_HUB_KEY, library: 'keep', realms: [realmHostOf(upstream)] },
          ],
        },
      });
      const res = await credentials(service, token, { registry: 'docker.io', repository: 'library/python' });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({
        kind: 'bearer',
        registry: DOCKER_HUB_KEY,
        repository: 'library/python',
        source: 'broker',
      });
      const pulled = await fetch(`${upstream.registry.url}/v2/library/python/manifests/3.14`, {
        headers: {
          authorization: `Bearer ${res.json.token}`,
          accept: 'application/vnd.docker.distribution.manifest.v2+json',
        },
      });
      expect(pulled.status).toBe(200);
      // What `get` (docker CLI, compose, podman) asks: no repository, so no credential.
      const get = await credentials(service, token, { registry: DOCKER_HUB_KEY });
      expect(get.status).toBe(404);
      expect(get.json.message).toContain('broker source');
    });
  });
});
