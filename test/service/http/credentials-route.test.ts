import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DEFAULT_REGISTRY_ENV,
  PASSWORD,
  START,
  startTestService,
  type TestService,
} from '../../helpers/service-harness.ts';
import { DOCKER_HUB_KEY } from '../../../src/registry/registry-key.ts';

let svc: TestService;
beforeAll(async () => {
  // A second registry from the config file, open to project "ml" only.
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'credentials-route-'));
  const configPath = join(dir, 'config.json');
  await writeFile(
    configPath,
    JSON.stringify({
      registries: [
        {
          registry: 'ghcr.io',
          source: 'static',
          username: 'ml-bot',
          passwordEnv: 'GHCR_PASSWORD',
          projects: ['ml'],
          credentialTtl: '2m',
        },
      ],
    }),
  );
  svc = await startTestService({
    dataDir: dir,
    env: { ...DEFAULT_REGISTRY_ENV, DSTACK_REGISTRY_AUTH_CONFIG: configPath, GHCR_PASSWORD: 'ghcr-password-for-ml' },
  });
});
afterAll(async () => {
  const { rm } = await import('node:fs/promises');
  await svc.close();
  await rm(svc.dataDir, { recursive: true, force: true });
});

describe('POST /v1/credentials (static source)', () => {
  it('hands the default registry credential to an authenticated instance, with its cache lifetime', async () => {
    const token = await svc.mint('i-1', 'main');
    const res = await svc.request('/v1/credentials', { token, body: { registry: 'docker.mycompany.example' } });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      kind: 'basic',
      registry: 'docker.mycompany.example',
      username: 'docker-user',
      secret: PASSWORD,
      expires_at: new Date(START.getTime() + 600_000).toISOString(),
      source: 'static',
    });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('serves the default registry credential under the Docker Hub key in any spelling (dockerd sends it to the mirror)', async () => {
    const token = await svc.mint('i-1', 'main');
    for (const spelling of [DOCKER_HUB_KEY, 'docker.io', 'https://registry-1.docker.io/v2/']) {
      const res = await svc.request('/v1/credentials', { token, body: { registry: spelling } });
      expect(res.status, spelling).toBe(200);
      expect(res.json).toMatchObject({ registry: DOCKER_HUB_KEY, username: 'docker-user', secret: PASSWORD });
    }
  });

  it('gives a project its own registry and refuses it to other projects with 403 forbidden', async () => {
    const ml = await svc.mint('i-ml', 'ml');
    const ok = await svc.request('/v1/credentials', { token: ml, body: { registry: 'https://ghcr.io/' } });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({
      registry: 'ghcr.io',
      username: 'ml-bot',
      secret: 'ghcr-password-for-ml',
      expires_at: new Date(START.getTime() + 120_000).toISOString(),
    });
    const other = await svc.request('/v1/credentials', {
      token: await svc.mint('i-2', 'main'),
      body: { registry: 'ghcr.io' },
    });
    expect(other.status).toBe(403);
    expect(other.json).toEqual({ error: 'forbidden', message: expect.stringContaining('main') });
    expect(other.text).not.toContain('ghcr-password-for-ml');
  });

  it('answers 404 not_found for a registry it has no credential for', async () => {
    const res = await svc.request('/v1/credentials', {
      token: await svc.mint('i-1', 'main'),
      body: { registry: 'quay.io' },
    });
    expect(res.status).toBe(404);
    expect(res.json.error).toBe('not_found');
  });

  it.each([
    ['not json at all', 'bad_request'],
    ['[1,2]', 'bad_request'],
    ['{}', 'bad_request'],
    ['{"registry": 42}', 'bad_request'],
    ['{"registry": "ftp://x"}', 'bad_request'],
    ['{"registry": ""}', 'bad_request'],
  ])('answers 400 for body %s', async (body, code) => {
    const res = await svc.request('/v1/credentials', { token: await svc.mint('i-1', 'main'), body });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe(code);
    expect(res.text).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('answers 413 for a body over 16 KiB, declared or not', async () => {
    const token = await svc.mint('i-1', 'main');
    const big = JSON.stringify({ registry: 'docker.mycompany.example', pad: 'x'.repeat(17 * 1024) });
    const res = await svc.request('/v1/credentials', { token, body: big });
    expect(res.status).toBe(413);
    expect(res.json.error).toBe('payload_too_large');
    // Chunked (no content-length): the limit is enforced while reading.
    const chunked = await fetch(`${svc.url}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1024)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(((await chunked.json()) as { error: string }).error).toBe('payload_too_large');
  });

  it('audits each issuance and denial as a JSON line without the secret', async () => {
    const token = await svc.mint('i-audit', 'main');
    await svc.request('/v1/credentials', { token, body: { registry: 'docker.mycompany.example' } });
    await svc.request('/v1/credentials', { token, body: { registry: 'ghcr.io' } });
    await svc.request('/v1/credentials', { body: { registry: 'ghcr.io' } });
    const events = svc.auditLines
      .map((line) => JSON.parse(line))
      .filter((e) => e.instance === 'i-audit' || e.reason === 'token_missing');
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          event: 'credential',
          outcome: 'granted',
          instance: 'i-audit',
          project: 'main',
          registry: 'docker.mycompany.example',
          source: 'static',
        }),
        expect.objectContaining({
          event: 'credential',
          outcome: 'denied',
          instance: 'i-audit',
          project: 'main',
          registry: 'ghcr.io',
          reason: 'forbidden',
        }),
        expect.objectContaining({ event: 'credential', outcome: 'denied', reason: 'token_missing' }),
      ]),
    );
    for (const event of events) expect(typeof event.time).toBe('string');
    expect(svc.auditLines.join('\n')).not.toContain(PASSWORD);
  });
});
