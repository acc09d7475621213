import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { mintRegistryToken } from '../../../src/service/token/registry-token.ts';
import { certificateBundle, loadRegistrySigningKeys } from '../../../src/service/token/registry-signing-keys.ts';
import { makeKeys, type Keys } from '../../helpers/realm-fixtures.ts';

const T0 = new Date('2026-11-26T20:00:00.700Z');
const claims = {
  issuer: 'dstack-registry-auth',
  subject: 'i-1',
  audience: 'registry.example:5000',
  access: [{ type: 'repository', name: 'library/python', actions: ['pull'] }],
  ttlSeconds: 300,
};

let keys: Keys;
beforeAll(async () => {
  keys = await makeKeys();
});
afterAll(() => keys.cleanup());

// What distribution does: take the key from the x5c certificate, which must be one the bundle holds.
async function verifyLikeARegistry(token: string, bundle: string, now: Date) {
  const header = decodeProtectedHeader(token);
  const der = Buffer.from((header.x5c as string[])[0]!, 'base64');
  const certificate = new X509Certificate(der);
  const trusted = (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (pem) => new X509Certificate(pem),
  );
  if (!trusted.some((root) => root.raw.equals(certificate.raw))) throw new Error('x5c certificate not in the bundle');
  return jwtVerify(token, certificate.publicKey, {
    algorithms: ['ES256', 'RS256'],
    issuer: claims.issuer,
    audience: claims.audience,
    currentDate: now,
  });
}

describe('registry tokens', () => {
  it('carry iss, sub, aud (one string), exp, nbf, iat, jti and access, in whole seconds', async () => {
    const issued = await mintRegistryToken(keys.registryKeys, claims, T0);
    const payload = decodeJwt(issued.token);
    const iat = Math.floor(T0.getTime() / 1000);
    expect(payload).toMatchObject({
      iss: 'dstack-registry-auth',
      sub: 'i-1',
      aud: 'registry.example:5000',
      iat,
      nbf: iat,
      exp: iat + 300,
      access: claims.access,
    });
    expect(typeof payload.jti).toBe('string');
    expect(issued).toMatchObject({ expiresIn: 300, issuedAt: new Date(iat * 1000) });
  });

  it('are ES256 with the signing certificate in x5c, verifiable against the bundle', async () => {
    const issued = await mintRegistryToken(keys.registryKeys, claims, T0);
    expect(decodeProtectedHeader(issued.token)).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    await expect(verifyLikeARegistry(issued.token, certificateBundle(keys.registryKeys), T0)).resolves.toBeDefined();
  });

  it('never live less than 60 s; anonymous ones have an empty subject and may have no access', async () => {
    const issued = await mintRegistryToken(
      keys.registryKeys,
      { ...claims, subject: '', access: [], ttlSeconds: 5 },
      T0,
    );
    expect(issued.expiresIn).toBe(60);
    expect(decodeJwt(issued.token)).toMatchObject({ sub: '', access: [] });
  });

  it('rotate without downtime: after rotation new tokens use the new key, old ones still verify against the new bundle', async () => {
    const before = await mintRegistryToken(keys.registryKeys, claims, T0);
    await rename(join(keys.dataDir, 'keys', 'registry.pem'), join(keys.dataDir, 'keys', 'registry.previous-1.pem'));
    const rotated = await loadRegistrySigningKeys({ dataDir: keys.dataDir, issuerName: 'dstack-registry-auth' });
    const after = await mintRegistryToken(rotated, claims, T0);
    expect(decodeProtectedHeader(after.token).kid).toBe(rotated.current.kid);
    expect(decodeProtectedHeader(after.token).kid).not.toBe(keys.registryKeys.current.kid);
    const bundle = certificateBundle(rotated);
    await expect(verifyLikeARegistry(before.token, bundle, T0)).resolves.toBeDefined();
    await expect(verifyLikeARegistry(after.token, bundle, T0)).resolves.toBeDefined();
    // The old bundle does not trust the new key: that is why the bundle goes out before the switch.
    await expect(verifyLikeARegistry(after.token, certificateBundle(keys.registryKeys), T0)).rejects.toThrow(
      /not in the bundle/,
    );
  });
});
