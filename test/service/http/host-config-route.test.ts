import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_REGISTRY_ENV, startTestService, type TestService } from '../../helpers/service-harness.ts';
import { DOCKER_HUB_KEY } from '../../../src/registry/registry-key.ts';

let svc: TestService;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'host-config-'));
  const configPath = join(dir, 'config.json');
  await writeFile(
    configPath,
    JSON.stringify({
      registries: [
        { registry: 'ghcr.io', source: 'static', username: 'bot', password: 'p', projects: ['ml'] },
        { registry: 'registry.internal:5000', source: 'issuer', projects: ['ml', 'main'] },
      ],
    }),
  );
  svc = await startTestService({
    env: {
      ...DEFAULT_REGISTRY_ENV,
      DSTACK_REGISTRY_AUTH_DEFAULT_PROJECTS: 'main,ml',
      DSTACK_REGISTRY_AUTH_CONFIG: configPath,
    },
  });
});
afterAll(async () => {
  await svc.close();
  await rm(dir, { recursive: true, force: true });
});

describe('GET /v1/host-config', () => {
  it('lists the mirror and the keys the project may use', async () => {
    const main = await svc.request('/v1/host-config', { token: await svc.mint('i-1', 'main') });
    expect(main.status).toBe(200);
    const endpoint = {
      enabled: false,
      upstreams: [{ url: 'https://docker.mycompany.example', registry: 'docker.mycompany.example', library: 'keep' }],
    };
    expect(main.json).toEqual({
      mirrors: ['https://docker.mycompany.example'],
      registries: [DOCKER_HUB_KEY, 'docker.mycompany.example', 'registry.internal:5000'],
      endpoint,
    });
    const ml = await svc.request('/v1/host-config', { token: await svc.mint('i-2', 'ml') });
    expect(ml.json).toEqual({
      mirrors: ['https://docker.mycompany.example'],
      registries: [DOCKER_HUB_KEY, 'docker.mycompany.example', 'ghcr.io', 'registry.internal:5000'],
      endpoint,
    });
  });

  it('lists nothing for a project no registry is open to', async () => {
    const res = await svc.request('/v1/host-config', { token: await svc.mint('i-3', 'other') });
    expect(res.json).toEqual({ mirrors: [], registries: [], endpoint: { enabled: false, upstreams: [] } });
  });

  it('is not available without a token, nor with POST', async () => {
    expect((await svc.request('/v1/host-config')).status).toBe(401);
    const post = await svc.request('/v1/host-config', {
      method: 'POST',
      token: await svc.mint('i-1', 'main'),
      body: {},
    });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
  });
});

describe('GET /v1/host-config: the mirror endpoint block', () => {
  it('carries the fleet default, a path-prefixed mirror (not in mirrors: dockerd refuses a path) and its library mode', async () => {
    const endpointSvc = await startTestService({
      env: {
        ...DEFAULT_REGISTRY_ENV,
        DSTACK_REGISTRY_AUTH_MIRROR_ENDPOINT: 'on',
        DSTACK_REGISTRY_AUTH_DEFAULT_MIRROR_URL: 'https://harbor.example/dockerhub-proxy',
        DSTACK_REGISTRY_AUTH_DEFAULT_LIBRARY: 'strip',
      },
    });
    try {
      const res = await endpointSvc.request('/v1/host-config', { token: await endpointSvc.mint('i-1', 'main') });
      expect(res.json).toEqual({
        mirrors: [],
        registries: [DOCKER_HUB_KEY, 'docker.mycompany.example'],
        endpoint: {
          enabled: true,
          upstreams: [
            { url: 'https://harbor.example/dockerhub-proxy', registry: 'docker.mycompany.example', library: 'strip' },
          ],
        },
      });
    } finally {
      await endpointSvc.close();
    }
  });

  it('makes Docker Hub itself the upstream for Docker Hub credentials without a mirror', async () => {
    const hubSvc = await startTestService({
      env: {
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'hub-user',
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: 'hub-token-0123',
        DSTACK_REGISTRY_AUTH_MIRROR_ENDPOINT: 'off',
      },
    });
    try {
      const res = await hubSvc.request('/v1/host-config', { token: await hubSvc.mint('i-1', 'main') });
      expect(res.json).toEqual({
        mirrors: [],
        registries: [DOCKER_HUB_KEY],
        endpoint: {
          enabled: false,
          upstreams: [{ url: 'https://registry-1.docker.io', registry: DOCKER_HUB_KEY, library: 'keep' }],
        },
      });
    } finally {
      await hubSvc.close();
    }
  });

  it("hands the registry's realms to the endpoint with its upstream; a realm that is not host[:port] stops start-up", async () => {
    const realmSvc = await startTestService({
      env: {
        ...DEFAULT_REGISTRY_ENV,
        DSTACK_REGISTRY_AUTH_MIRROR_ENDPOINT: 'on',
        DSTACK_REGISTRY_AUTH_DEFAULT_REALMS: 'Auth.Mycompany.example:443, auth2.mycompany.example:8443',
      },
    });
    try {
      const res = await realmSvc.request('/v1/host-config', { token: await realmSvc.mint('i-1', 'main') });
      expect(res.json.endpoint.upstreams).toEqual([
        {
          url: 'https://docker.mycompany.example',
          registry: 'docker.mycompany.example',
          library: 'keep',
          realms: ['auth.mycompany.example', 'auth2.mycompany.example:8443'],
        },
      ]);
    } finally {
      await realmSvc.close();
    }
    await expect(
      startTestService({
        env: { ...DEFAULT_REGISTRY_ENV, DSTACK_REGISTRY_AUTH_DEFAULT_REALMS: 'https://auth.example/token' },
      }),
    ).rejects.toThrow(
      /DSTACK_REGISTRY_AUTH_DEFAULT_REALMS: "https:\/\/auth\.example\/token" is not a token realm host; write host or host:port/,
    );
  });
});
