import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  DEFAULT_REGISTRY_ENV,
  START,
  startTestService,
  type TestService,
} from '../../helpers/service-harness.ts';

let svc: TestService;
let closed: TestService;
beforeAll(async () => {
  svc = await startTestService({ env: { ...DEFAULT_REGISTRY_ENV, DSTACK_REGISTRY_AUTH_ADMIN_TOKEN: ADMIN_TOKEN } });
  closed = await startTestService({ env: DEFAULT_REGISTRY_ENV });
});
afterAll(async () => {
  await svc.close();
  await closed.close();
});

describe('admin API', () => {
  it('does not exist without an admin token configured: 404 not_found', async () => {
    for (const path of ['/v1/admin/tokens', '/v1/admin/revocations']) {
      const res = await closed.request(path, { token: ADMIN_TOKEN, body: { instance: 'i-1' } });
      expect(res.status).toBe(404);
      expect(res.json.error).toBe('not_found');
    }
  });

  it('refuses a missing or wrong admin token, and an instance token', async () => {
    expect((await svc.request('/v1/admin/tokens', { body: { instance: 'i-1' } })).json.error).toBe('token_missing');
    const wrong = await svc.request('/v1/admin/tokens', { token: `${ADMIN_TOKEN}x`, body: { instance: 'i-1' } });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toBe('token_invalid');
    const instance = await svc.request('/v1/admin/revocations', {
      token: await svc.mint('i-1', 'main'),
      body: { instance: 'i-1' },
    });
    expect(instance.status).toBe(401);
    expect(
      svc.auditLines.some((line) => JSON.parse(line).event === 'token_issued' && JSON.parse(line).outcome === 'denied'),
    ).toBe(true);
  });

  it('mints a working instance token (201) with the requested lifetime', async () => {
    const res = await svc.request('/v1/admin/tokens', {
      token: ADMIN_TOKEN,
      body: { instance: 'i-admin', project: 'main', ttl: '1h' },
    });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      token: expect.any(String),
      instance: 'i-admin',
      project: 'main',
      expires_at: new Date(START.getTime() + 3_600_000).toISOString(),
    });
    const use = await svc.request('/v1/credentials', {
      token: res.json.token,
      body: { registry: 'docker.mycompany.example' },
    });
    expect(use.status).toBe(200);
    const defaults = await svc.request('/v1/admin/tokens', { token: ADMIN_TOKEN, body: { instance: 'i-default' } });
    expect(defaults.json).toMatchObject({
      project: 'main',
      expires_at: new Date(START.getTime() + 30 * 86_400_000).toISOString(),
    });
  });

  it.each([
    {},
    { instance: '' },
    { instance: 'has space' },
    { instance: 'i-1', project: 7 },
    { instance: 'i-1', ttl: 'forever' },
    { instance: 'i-1', ttl: -5 },
  ])('rejects %j with 400', async (body) => {
    const res = await svc.request('/v1/admin/tokens', { token: ADMIN_TOKEN, body });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('bad_request');
  });

  it.each([{ ttl: '999999999d' }, { ttl: '366d' }, { ttl: 999_999_999_999 }])(
    'refuses an absurd lifetime %j with 400 naming "ttl" and the cap',
    async (extra) => {
      const res = await svc.request('/v1/admin/tokens', { token: ADMIN_TOKEN, body: { instance: 'i-long', ...extra } });
      expect(res.status).toBe(400);
      expect(res.json.error).toBe('bad_request');
      expect(res.json.message).toContain('"ttl"');
      expect(res.json.message).toContain('365d');
    },
  );

  it('revokes: the instance token stops working at once, a later one works', async () => {
    const minted = await svc.request('/v1/admin/tokens', {
      token: ADMIN_TOKEN,
      body: { instance: 'i-gone', project: 'main' },
    });
    const token = minted.json.token as string;
    expect((await svc.request('/v1/host-config', { token })).status).toBe(200);
    const revoked = await svc.request('/v1/admin/revocations', { token: ADMIN_TOKEN, body: { instance: 'i-gone' } });
    expect(revoked.status).toBe(200);
    expect(revoked.json).toEqual({ instance: 'i-gone', revoked_at: svc.now().toISOString() });
    const after = await svc.request('/v1/credentials', { token, body: { registry: 'docker.mycompany.example' } });
    expect(after.status).toBe(401);
    expect(after.json.error).toBe('token_revoked');
    svc.advance(1);
    const again = await svc.request('/v1/admin/tokens', {
      token: ADMIN_TOKEN,
      body: { instance: 'i-gone', project: 'main' },
    });
    expect((await svc.request('/v1/host-config', { token: again.json.token })).status).toBe(200);
    const events = svc.auditLines.map((line) => JSON.parse(line));
    expect(events).toEqual(
      expect.arrayContaining([expect.objectContaining({ event: 'revoked', outcome: 'granted', instance: 'i-gone' })]),
    );
  });

  it('never logs or audits the admin token', async () => {
    expect([...svc.auditLines, ...svc.logLines].join('\n')).not.toContain(ADMIN_TOKEN);
  });
});
