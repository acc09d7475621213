import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, UnsecuredJWT } from 'jose';
import { loadKeyRing } from '../../../src/service/token/key-ring.ts';
import {
  checkInstanceTokenTtl,
  INSTANCE_TOKEN_TYPE,
  MAX_INSTANCE_TOKEN_TTL_SECONDS,
  mintInstanceToken,
  verifyInstanceToken,
} from '../../../src/service/token/instance-token.ts';
import type { KeyRing, RevocationStore } from '../../../src/service/core/ports.ts';

const issuer = 'dstack-registry-auth';
const t0 = new Date('2026-11-26T21:00:00.000Z');
const claims = { instance: 'i-1', project: 'main', ttlSeconds: 600, issuer };

function memoryStore(): RevocationStore & { map: Map<string, Date> } {
  const map = new Map<string, Date>();
  return {
    map,
    revoke: async (instance, at) => void map.set(instance, at),
    revokedAt: async (instance) => map.get(instance),
    close: async () => {},
  };
}

let dataDir: string;
let keys: KeyRing;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'instance-token-'));
  keys = await loadKeyRing({ dataDir, name: 'instance', alg: 'EdDSA' });
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const parts = (token: string) => token.split('.') as [string, string, string];
const verifyAt = (token: string, now: Date, revocations: RevocationStore = memoryStore()) =>
  verifyInstanceToken(token, keys, { issuer, now, revocations });

describe('instance tokens', () => {
  it('mint → verify gives back the identity, with typ, kid and all required claims', async () => {
    const { token, expiresAt } = await mintInstanceToken(keys, claims, t0);
    expect(expiresAt.toISOString()).toBe('2026-11-26T21:10:00.000Z');
    const header = JSON.parse(Buffer.from(parts(token)[0], 'base64url').toString());
    expect(header).toEqual({ alg: 'EdDSA', kid: keys.current.kid, typ: INSTANCE_TOKEN_TYPE });
    const payload = JSON.parse(Buffer.from(parts(token)[1], 'base64url').toString());
    expect(Object.keys(payload).sort()).toEqual(['exp', 'iat', 'iss', 'jti', 'prj', 'sub']);
    const identity = await verifyAt(token, new Date(t0.getTime() + 1000));
    expect(identity).toEqual({ instance: 'i-1', project: 'main', issuedAt: t0, expiresAt });
  });

  it('expires on a frozen clock, with 30 s tolerance', async () => {
    const { token } = await mintInstanceToken(keys, claims, t0);
    await expect(verifyAt(token, new Date(t0.getTime() + 600_000 + 29_000))).resolves.toBeDefined();
    const error = await verifyAt(token, new Date(t0.getTime() + 600_000 + 31_000)).catch((e) => e);
    expect(error).toMatchObject({ code: 'token_expired', message: 'instance token expired; get a new one' });
    expect(error.message).not.toContain(token);
  });

  it('rejects a token issued in the future (minting clock far ahead)', async () => {
    const { token } = await mintInstanceToken(keys, claims, new Date(t0.getTime() + 120_000));
    await expect(verifyAt(token, t0)).rejects.toMatchObject({
      code: 'token_invalid',
      message: expect.stringContaining('future'),
    });
  });

  it('rejects a tampered payload', async () => {
    const { token } = await mintInstanceToken(keys, claims, t0);
    const [h, p, s] = parts(token);
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = `${h}.${b64({ ...payload, prj: 'other' })}.${s}`;
    await expect(verifyAt(forged, t0)).rejects.toMatchObject({
      code: 'token_invalid',
      message: 'instance token rejected: bad signature',
    });
  });

  it('rejects alg none', async () => {
    const unsecured = new UnsecuredJWT({ iss: issuer, sub: 'i-1', prj: 'main', jti: 'x' })
      .setIssuedAt(t0)
      .setExpirationTime(new Date(t0.getTime() + 60_000))
      .encode();
    await expect(verifyAt(unsecured, t0)).rejects.toMatchObject({ code: 'token_invalid' });
    const { token } = await mintInstanceToken(keys, claims, t0);
    const withNone = `${b64({ alg: 'none', kid: keys.current.kid, typ: INSTANCE_TOKEN_TYPE })}.${parts(token)[1]}.`;
    await expect(verifyAt(withNone, t0)).rejects.toMatchObject({ code: 'token_invalid' });
  });

  it('rejects HS256 signed with the public key bytes (key confusion)', async () => {
    const { token } = await mintInstanceToken(keys, claims, t0);
    for (const secret of [
      keys.current.publicKey.export({ type: 'spki', format: 'pem' }) as string,
      keys.current.publicKey.export({ type: 'spki', format: 'der' }) as Buffer,
      Buffer.from((keys.current.publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url'),
    ]) {
      const input = `${b64({ alg: 'HS256', kid: keys.current.kid, typ: INSTANCE_TOKEN_TYPE })}.${parts(token)[1]}`;
      const forged = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      await expect(verifyAt(forged, t0)).rejects.toMatchObject({
        code: 'token_invalid',
        message: 'instance token rejected: signing algorithm not allowed',
      });
    }
  });

  it('rejects tokens signed with another algorithm or an unknown key (ES256 swap)', async () => {
    const other = await loadKeyRing({ dataDir, name: 'registry', alg: 'ES256' });
    const forged = await new SignJWT({ iss: issuer, sub: 'i-1', prj: 'main', jti: 'x' })
      .setProtectedHeader({ alg: 'ES256', kid: keys.current.kid, typ: INSTANCE_TOKEN_TYPE })
      .setIssuedAt(t0)
      .setExpirationTime('10m')
      .sign(other.current.privateKey);
    await expect(verifyAt(forged, t0)).rejects.toMatchObject({ code: 'token_invalid' });
    const otherEd = await loadKeyRing({ dataDir, name: 'ticket', alg: 'EdDSA' });
    const unknown = (await mintInstanceToken(otherEd, claims, t0)).token;
    await expect(verifyAt(unknown, t0)).rejects.toMatchObject({
      code: 'token_invalid',
      message: 'instance token rejected: signed by an unknown key',
    });
  });

  it('rejects a wrong typ, a wrong issuer, a missing claim and garbage', async () => {
    const sign = (header: Record<string, unknown>, payload: Record<string, unknown>) =>
      new SignJWT(payload)
        .setProtectedHeader({ alg: 'EdDSA', kid: keys.current.kid, ...header })
        .sign(keys.current.privateKey);
    const good = {
      iss: issuer,
      sub: 'i-1',
      prj: 'main',
      jti: 'j',
      iat: t0.getTime() / 1000,
      exp: t0.getTime() / 1000 + 60,
    };
    await expect(verifyAt(await sign({ typ: 'dstack-ticket+jwt' }, good), t0)).rejects.toMatchObject({
      code: 'token_invalid',
      message: 'instance token rejected: wrong token type',
    });
    await expect(
      verifyAt(await sign({ typ: INSTANCE_TOKEN_TYPE }, { ...good, iss: 'someone-else' }), t0),
    ).rejects.toMatchObject({ code: 'token_invalid', message: 'instance token rejected: unexpected "iss" claim' });
    const { prj: _prj, ...noProject } = good;
    await expect(verifyAt(await sign({ typ: INSTANCE_TOKEN_TYPE }, noProject), t0)).rejects.toMatchObject({
      code: 'token_invalid',
      message: 'instance token rejected: missing "prj" claim',
    });
    await expect(verifyAt(await sign({ typ: INSTANCE_TOKEN_TYPE }, { ...good, sub: '' }), t0)).rejects.toMatchObject({
      code: 'token_invalid',
    });
    for (const garbage of ['', 'abc', 'a.b.c', '....']) {
      await expect(verifyAt(garbage, t0)).rejects.toMatchObject({
        code: 'token_invalid',
        message: 'instance token rejected: malformed token',
      });
    }
  });

  it('revocation cuts off tokens issued at or before it; a token minted after it works, even in the same second', async () => {
    const store = memoryStore();
    const before = (await mintInstanceToken(keys, claims, t0)).token;
    const revokedAt = new Date(t0.getTime() + 400);
    await store.revoke('i-1', revokedAt);
    const sameSecondAfter = (await mintInstanceToken(keys, claims, new Date(t0.getTime() + 401))).token;
    const atRevocation = (await mintInstanceToken(keys, claims, revokedAt)).token;
    const now = new Date(t0.getTime() + 5000);
    const error = await verifyAt(before, now, store).catch((e) => e);
    expect(error).toMatchObject({ code: 'token_revoked' });
    expect(error.message).not.toContain(before);
    await expect(verifyAt(atRevocation, now, store)).rejects.toMatchObject({ code: 'token_revoked' });
    await expect(verifyAt(sameSecondAfter, now, store)).resolves.toMatchObject({ instance: 'i-1' });
    const otherInstance = (await mintInstanceToken(keys, { ...claims, instance: 'i-2' }, t0)).token;
    await expect(verifyAt(otherInstance, now, store)).resolves.toMatchObject({ instance: 'i-2' });
  });

  it('refuses to mint nonsense', async () => {
    await expect(mintInstanceToken(keys, { ...claims, instance: '' }, t0)).rejects.toMatchObject({
      code: 'bad_request',
    });
    await expect(mintInstanceToken(keys, { ...claims, ttlSeconds: 0 }, t0)).rejects.toMatchObject({
      code: 'bad_request',
    });
  });

  it('caps the lifetime at 365 days instead of failing inside jose on an absurd one', async () => {
    const absurd = 999_999_999 * 86_400;
    await expect(mintInstanceToken(keys, { ...claims, ttlSeconds: absurd }, t0)).rejects.toMatchObject({
      code: 'bad_request',
      message: expect.stringContaining('365d'),
    });
    await expect(
      mintInstanceToken(keys, { ...claims, ttlSeconds: MAX_INSTANCE_TOKEN_TTL_SECONDS + 1 }, t0),
    ).rejects.toMatchObject({ code: 'bad_request' });
    const { expiresAt } = await mintInstanceToken(keys, { ...claims, ttlSeconds: MAX_INSTANCE_TOKEN_TTL_SECONDS }, t0);
    expect(expiresAt).toEqual(new Date(t0.getTime() + 365 * 86_400_000));
    expect(() => checkInstanceTokenTtl(absurd, '--ttl', 'config_invalid')).toThrow(
      expect.objectContaining({ code: 'config_invalid', message: expect.stringMatching(/^--ttl: .*365d/) }),
    );
  });
});
