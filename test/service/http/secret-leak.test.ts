import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import {
  ADMIN_TOKEN,
  DEFAULT_REGISTRY_ENV,
  PASSWORD,
  startTestService,
  type TestService,
} from '../../helpers/service-harness.ts';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ env: { ...DEFAULT_REGISTRY_ENV, DSTACK_REGISTRY_AUTH_ADMIN_TOKEN: ADMIN_TOKEN } });
});
afterAll(async () => {
  await svc.close();
});

describe('the configured password appears only in the credential response', () => {
  it('greps every other response, the metrics, the audit log, the service log and the config dump', async () => {
    const token = await svc.mint('i-leak', 'main');
    const others: string[] = [];
    const keep = async (path: string, init?: Parameters<TestService['request']>[1]) => {
      const res = await svc.request(path, init);
      others.push(`${path} ${res.status} ${[...res.headers].join(' ')} ${res.text}`);
      return res;
    };
    // The one allowed place.
    const granted = await svc.request('/v1/credentials', { token, body: { registry: 'docker.mycompany.example' } });
    expect(granted.json.secret).toBe(PASSWORD);
    // Everything else, including every refusal.
    await keep('/healthz');
    await keep('/v1/host-config', { token });
    await keep('/v1/host-config');
    await keep('/v1/credentials', { token, body: { registry: 'quay.io' } });
    await keep('/v1/credentials', { token: 'garbage', body: { registry: 'docker.mycompany.example' } });
    await keep('/v1/credentials', { body: { registry: 'docker.mycompany.example' } });
    await keep('/v1/credentials', { token, body: { registry: 'docker.mycompany.example', pad: 'x'.repeat(20_000) } });
    await keep('/v1/credentials', { method: 'GET' });
    await keep('/v1/admin/tokens', { token: ADMIN_TOKEN, body: { instance: 'i-other', project: 'main' } });
    await keep('/v1/admin/tokens', { token: PASSWORD, body: { instance: 'i-other' } });
    await keep('/v1/admin/revocations', { token: ADMIN_TOKEN, body: { instance: 'i-other' } });
    await keep(`/v1/token?service=docker.mycompany.example&scope=repository:library/python:pull`, {
      headers: { authorization: `Basic ${Buffer.from(`docker-user:${PASSWORD}`).toString('base64')}` },
    });
    await keep('/nope');
    await keep('/metrics');
    const everything = [
      ...others,
      ...svc.auditLines,
      ...svc.logLines,
      JSON.stringify(svc.config),
      inspect(svc.config, { depth: 10 }),
      String(svc.config.registries[0]!.static!.password),
    ];
    for (const text of everything) expect(text).not.toContain(PASSWORD);
    expect(svc.auditLines.length).toBeGreaterThan(5);
  });
});
