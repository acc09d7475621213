import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_REGISTRY_ENV, startTestService, type TestService } from './service-harness.ts';
import { DOCKER_HUB_KEY } from '../../../src/registry/registry-key.ts';

let svc: TestService;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'host-config-'));
  const configPath = join(dir, 'config.json');
  await writeFile(configPath, JSON.stringify({
    registries: [
      { registry: 'ghcr.io', source: 'static', username: 'bot', password: 'p', projects: ['ml'] },
      { registry: 'registry.internal:5000', source: 'issuer', projects: ['ml', 'main'] },
    ],
  }));
  svc = await startTestService({ env: { ...DEFAULT_REGISTRY_ENV, DSTACK_REGISTRY_AUTH_DEFAULT_PROJECTS: 'main,ml', DSTACK_REGISTRY_AUTH_CONFIG: configPath } });
});
afterAll(async () => {
  await svc.close();
  await rm(dir, { recursive: true, force: true });
});

describe('GET /v1/host-config', () => {
  it('lists the mirror and the keys the project may use', async () => {
    const main = await svc.request('/v1/host-config', { token: await svc.mint('i-1', 'main') });
    expect(main.status).toBe(200);
    expect(main.json).toEqual({ mirrors: ['https://docker.mycompany.example'], registries: [DOCKER_HUB_KEY, 'docker.mycompany.example', 'registry.internal:5000'] });
    const ml = await svc.request('/v1/host-config', { token: await svc.mint('i-2', 'ml') });
    expect(ml.json).toEqual({ mirrors: ['https://docker.mycompany.example'], registries: [DOCKER_HUB_KEY, 'docker.mycompany.example', 'ghcr.io', 'registry.internal:5000'] });
  });

  it('lists nothing for a project no registry is open to', async () => {
    const res = await svc.request('/v1/host-config', { token: await svc.mint('i-3', 'other') });
    expect(res.json).toEqual({ mirrors: [], registries: [] });
  });

  it('is not available without a token, nor with POST', async () => {
    expect((await svc.request('/v1/host-config')).status).toBe(401);
    const post = await svc.request('/v1/host-config', { method: 'POST', token: await svc.mint('i-1', 'main'), body: {} });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
  });
});
