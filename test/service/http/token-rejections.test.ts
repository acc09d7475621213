import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { DEFAULT_REGISTRY_ENV, startTestService, type TestService } from '../../helpers/service-harness.ts';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ env: DEFAULT_REGISTRY_ENV });
});
afterAll(async () => {
  await svc.close();
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function claims(instance = 'i-forged') {
  const iat = Math.floor(svc.now().getTime() / 1000);
  return { iss: 'dstack-registry-auth', sub: instance, prj: 'main', iat, exp: iat + 3600, jti: 'forged-jti' };
}

async function expectRejected(token: string | undefined, status: number, code: string) {
  for (const [path, body] of [
    ['/v1/credentials', { registry: 'docker.mycompany.example' }],
    ['/v1/host-config', undefined],
  ] as const) {
    const res = await svc.request(path, { ...(token !== undefined ? { token } : {}), ...(body ? { body } : {}) });
    expect(res.status, `${path}: ${res.text}`).toBe(status);
    expect(res.json).toEqual({ error: code, message: expect.any(String) });
    expect(res.text).not.toMatch(/\bat .*\.(ts|js|cjs):\d+/);
    expect(res.text).not.toContain(DEFAULT_REGISTRY_ENV.DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD);
    if (status === 401) expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
  }
}

describe('instance token rejections', () => {
  it('no token → 401 token_missing (also a Basic header is not a bearer)', async () => {
    await expectRejected(undefined, 401, 'token_missing');
    const res = await svc.request('/v1/host-config', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(res.json.error).toBe('token_missing');
  });

  it.each(['garbage', 'a.b.c', 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.AAAA', '...'])(
    'garbled %s → 401 token_invalid',
    async (token) => {
      await expectRejected(token, 401, 'token_invalid');
    },
  );

  it('alg: none → 401 token_invalid', async () => {
    const token = `${b64({ alg: 'none', typ: 'dstack-instance+jwt' })}.${b64(claims())}.`;
    await expectRejected(token, 401, 'token_invalid');
  });

  it('HS256 keyed with the public key (key confusion) → 401 token_invalid', async () => {
    const { publicKey, kid } = svc.service.instanceKeys.current;
    for (const secret of [
      publicKey.export({ type: 'spki', format: 'pem' }) as string,
      publicKey.export({ format: 'jwk' }).x!,
    ]) {
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256', typ: 'dstack-instance+jwt', kid })
        .sign(new TextEncoder().encode(secret));
      await expectRejected(token, 401, 'token_invalid');
    }
  });

  it('signed by another Ed25519 key claiming our kid → 401 token_invalid', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'EdDSA', typ: 'dstack-instance+jwt', kid: svc.service.instanceKeys.current.kid })
      .sign(privateKey);
    await expectRejected(token, 401, 'token_invalid');
  });

  it('right key, wrong type or issuer → 401 token_invalid', async () => {
    const key = svc.service.instanceKeys.current;
    const wrongTyp = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'EdDSA', typ: 'dstack-ticket+jwt', kid: key.kid })
      .sign(key.privateKey);
    await expectRejected(wrongTyp, 401, 'token_invalid');
    const wrongIss = await new SignJWT({ ...claims(), iss: 'someone-else' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'dstack-instance+jwt', kid: key.kid })
      .sign(key.privateKey);
    await expectRejected(wrongIss, 401, 'token_invalid');
  });

  it('expired on the frozen clock → 401 token_expired', async () => {
    const token = await svc.mint('i-exp', 'main', 60);
    const ok = await svc.request('/v1/host-config', { token });
    expect(ok.status).toBe(200);
    svc.advance(60 + 31);
    await expectRejected(token, 401, 'token_expired');
  });

  it('revoked → 401 token_revoked at once; a token minted after the revocation works', async () => {
    const token = await svc.mint('i-rev', 'main');
    expect((await svc.request('/v1/host-config', { token })).status).toBe(200);
    await svc.service.revocations.revoke('i-rev', svc.now());
    await expectRejected(token, 401, 'token_revoked');
    svc.advance(1);
    const fresh = await svc.mint('i-rev', 'main');
    expect(
      (await svc.request('/v1/credentials', { token: fresh, body: { registry: 'docker.mycompany.example' } })).status,
    ).toBe(200);
  });

  it('the audit line of a revoked but validly signed token names its instance and project', async () => {
    const seen = await svc.mint('i-rev-seen', 'main');
    expect(
      (await svc.request('/v1/credentials', { token: seen, body: { registry: 'docker.mycompany.example' } })).status,
    ).toBe(200);
    const unseen = await svc.mint('i-rev-unseen', 'main');
    await svc.service.revocations.revoke('i-rev-seen', svc.now());
    await svc.service.revocations.revoke('i-rev-unseen', svc.now());
    // One token already verified (the verified-token cache answers), one never seen before.
    for (const [token, instance] of [
      [seen, 'i-rev-seen'],
      [unseen, 'i-rev-unseen'],
    ] as const) {
      const res = await svc.request('/v1/credentials', { token, body: { registry: 'docker.mycompany.example' } });
      expect(res.json.error).toBe('token_revoked');
      const line = svc.auditLines
        .map((text) => JSON.parse(text))
        .filter((event) => event.reason === 'token_revoked')
        .at(-1);
      expect(line).toMatchObject({
        event: 'credential',
        outcome: 'denied',
        reason: 'token_revoked',
        instance,
        project: 'main',
      });
    }
  });
});
