import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../../helpers/service-harness.ts';
import { DOCKER_HUB_KEY } from '../../../src/registry/registry-key.ts';

let svc: TestService;
beforeAll(async () => {
  // dstack with only DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: a pull-through cache that needs no login.
  svc = await startTestService({
    env: {
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: '127.0.0.1:5000',
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: '',
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: '',
    },
  });
});
afterAll(async () => {
  await svc.close();
});

describe('a default registry without credentials', () => {
  it('is still the mirror hosts configure, and its credential is not_found (so clients pull anonymously)', async () => {
    const token = await svc.mint('i-1', 'main');
    const hostConfig = await svc.request('/v1/host-config', { token });
    expect(hostConfig.json).toEqual({
      mirrors: ['http://127.0.0.1:5000'],
      registries: [DOCKER_HUB_KEY, '127.0.0.1:5000'],
      endpoint: {
        enabled: false,
        upstreams: [{ url: 'http://127.0.0.1:5000', registry: '127.0.0.1:5000', library: 'keep' }],
      },
    });
    for (const registry of [DOCKER_HUB_KEY, '127.0.0.1:5000']) {
      const res = await svc.request('/v1/credentials', { token, body: { registry } });
      expect(res.status).toBe(404);
      expect(res.json.error).toBe('not_found');
    }
  });
});
