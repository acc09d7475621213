import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_REGISTRY_ENV, startTestService, type TestService } from '../../helpers/service-harness.ts';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ env: { ...DEFAULT_REGISTRY_ENV, DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'static' } });
});
afterAll(async () => {
  await svc.close();
});

describe('operations endpoints and routing', () => {
  it('GET /healthz → 200 {"status":"ok"} with a Date header', async () => {
    const res = await svc.request('/healthz');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ok' });
    expect(Number.isNaN(Date.parse(res.headers.get('date') ?? ''))).toBe(false);
  });

  it('GET /metrics counts requests, issuances, failures by reason and latency in Prometheus text', async () => {
    const token = await svc.mint('i-1', 'main');
    await svc.request('/v1/credentials', { token, body: { registry: 'docker.mycompany.example' } });
    await svc.request('/v1/credentials', { token, body: { registry: 'quay.io' } });
    await svc.request('/v1/credentials', { body: { registry: 'quay.io' } });
    const res = await svc.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/dstack_registry_auth_issuances_total\{[^}]*source="static"[^}]*\} 1/);
    expect(res.text).toMatch(/dstack_registry_auth_failures_total\{[^}]*reason="not_found"[^}]*\} 1/);
    expect(res.text).toMatch(/dstack_registry_auth_failures_total\{[^}]*reason="token_missing"[^}]*\} 1/);
    expect(res.text).toMatch(/dstack_registry_auth_requests_total\{[^}]*route="credentials"[^}]*status="200"[^}]*\} 1/);
    expect(res.text).toMatch(/dstack_registry_auth_request_duration_seconds_count\{[^}]*route="credentials"[^}]*\} 3/);
  });

  it('unknown paths → 404 not_found, wrong methods → 405 with Allow', async () => {
    const unknown = await svc.request('/v2/');
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toBe('not_found');
    const wrong = await svc.request('/v1/credentials', { method: 'GET' });
    expect(wrong.status).toBe(405);
    expect(wrong.json.error).toBe('method_not_allowed');
    expect(wrong.headers.get('allow')).toBe('POST');
    const metrics = (await svc.request('/metrics')).text;
    expect(metrics).toMatch(/route="unknown"/);
    expect(metrics).not.toContain('/v2/');
  });

  it("mounts the token realm at /v1/token for GET and POST (not the router's 404/405)", async () => {
    const get = await svc.request('/v1/token?service=docker.mycompany.example&scope=repository:library/python:pull');
    const post = await svc.request('/v1/token', {
      method: 'POST',
      body: 'grant_type=password&username=x&password=y&service=s',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    for (const res of [get, post]) {
      expect([400, 401]).toContain(res.status);
      expect(res.json.error).toEqual(expect.any(String));
    }
    expect((await svc.request('/v1/token', { method: 'PUT', body: '' })).status).toBe(405);
  });
});
