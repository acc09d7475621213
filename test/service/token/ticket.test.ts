import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, decodeJwt } from 'jose';
import { mintTicket, TICKET_TYPE, TICKET_CLOCK_TOLERANCE_SECONDS } from '../../../src/service/token/ticket.ts';
import { createTicketVerifier } from '../../../src/service/realm/ticket-verifier.ts';
import { CLOCK_TOLERANCE_SECONDS } from '../../../src/service/token/jwt-verify.ts';
import { mintInstanceToken, verifyInstanceToken } from '../../../src/service/token/instance-token.ts';
import { loadKeyRing } from '../../../src/service/token/key-ring.ts';
import type { KeyRing, RevocationStore, SigningKey } from '../../../src/service/core/ports.ts';
import { makeKeys, memoryRevocations, type Keys } from '../../helpers/realm-fixtures.ts';

const T0 = new Date('2026-11-26T20:00:00.000Z');
const claims = {
  instance: 'i-1',
  project: 'main',
  service: 'registry.example:5000',
  ttlSeconds: 300,
  issuer: 'dstack-registry-auth',
};
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

let keys: Keys;
beforeAll(async () => {
  keys = await makeKeys();
});
afterAll(() => keys.cleanup());

// Each call verifies as the realm does, with a verifier of its own (no remembered signatures).
function verifyTicket(
  token: string,
  ring: KeyRing,
  options: { issuer: string; service: string; now: Date; revocations: RevocationStore },
) {
  return createTicketVerifier({ keys: ring, issuer: options.issuer, revocations: options.revocations })(
    token,
    options.service,
    options.now,
  );
}

function verifyOptions(overrides: Partial<Parameters<typeof verifyTicket>[2]> = {}) {
  return {
    issuer: 'dstack-registry-auth',
    service: claims.service,
    now: at(10),
    revocations: memoryRevocations(),
    ...overrides,
  };
}

describe('pull tickets', () => {
  it('are EdDSA compact JWS of type dstack-ticket+jwt with sub/prj/aud/iat/exp/jti', async () => {
    const { token, expiresAt } = await mintTicket(keys.ticketKeys, claims, T0);
    expect(decodeProtectedHeader(token)).toMatchObject({
      alg: 'EdDSA',
      typ: TICKET_TYPE,
      kid: keys.ticketKeys.current.kid,
    });
    const payload = decodeJwt(token);
    expect(payload).toMatchObject({
      iss: 'dstack-registry-auth',
      sub: 'i-1',
      prj: 'main',
      aud: 'registry.example:5000',
      exp: T0.getTime() / 1000 + 300,
    });
    expect(payload.iat).toBe(T0.getTime() / 1000);
    expect(typeof payload.jti).toBe('string');
    expect(expiresAt).toEqual(at(300));
  });

  it('verify within their lifetime against a frozen clock', async () => {
    const { token } = await mintTicket(keys.ticketKeys, claims, T0);
    const ticket = await verifyTicket(token, keys.ticketKeys, verifyOptions({ now: at(299) }));
    expect(ticket).toMatchObject({
      instance: 'i-1',
      project: 'main',
      service: claims.service,
      issuedAt: T0,
      expiresAt: at(300),
    });
  });

  it("expire: rejected past exp plus the ticket tolerance, which is shorter than the instance tokens' one", async () => {
    const { token } = await mintTicket(keys.ticketKeys, claims, T0);
    await expect(
      verifyTicket(token, keys.ticketKeys, verifyOptions({ now: at(300 + TICKET_CLOCK_TOLERANCE_SECONDS - 1) })),
    ).resolves.toMatchObject({ instance: 'i-1' });
    await expect(
      verifyTicket(token, keys.ticketKeys, verifyOptions({ now: at(300 + TICKET_CLOCK_TOLERANCE_SECONDS + 1) })),
    ).rejects.toMatchObject({ code: 'token_expired' });
    // At that moment an instance token of the same lifetime is still good (its tolerance is
    // longer); past its own tolerance it goes too.
    const instanceToken = (
      await mintInstanceToken(
        keys.ticketKeys,
        { instance: 'i-1', project: 'main', ttlSeconds: 300, issuer: 'dstack-registry-auth' },
        T0,
      )
    ).token;
    const verifyInstanceAt = (seconds: number) =>
      verifyInstanceToken(instanceToken, keys.ticketKeys, {
        issuer: 'dstack-registry-auth',
        now: at(seconds),
        revocations: memoryRevocations(),
      });
    await expect(verifyInstanceAt(300 + TICKET_CLOCK_TOLERANCE_SECONDS + 1)).resolves.toMatchObject({
      instance: 'i-1',
    });
    await expect(verifyInstanceAt(300 + CLOCK_TOLERANCE_SECONDS + 1)).rejects.toMatchObject({ code: 'token_expired' });
  });

  it('are bound to one registry service', async () => {
    const { token } = await mintTicket(keys.ticketKeys, claims, T0);
    await expect(
      verifyTicket(token, keys.ticketKeys, verifyOptions({ service: 'other.example' })),
    ).rejects.toMatchObject({ code: 'token_wrong_service' });
  });

  it('die with their instance: a revocation at or after iat rejects, one before it does not', async () => {
    const { token } = await mintTicket(keys.ticketKeys, claims, T0);
    const revocations = memoryRevocations();
    await revocations.revoke('i-1', at(-1));
    await expect(verifyTicket(token, keys.ticketKeys, verifyOptions({ revocations }))).resolves.toMatchObject({
      instance: 'i-1',
    });
    await revocations.revoke('i-1', T0);
    await expect(verifyTicket(token, keys.ticketKeys, verifyOptions({ revocations }))).rejects.toMatchObject({
      code: 'token_revoked',
    });
  });

  it('refuse other signers, algorithms and token types; never echo the token', async () => {
    const stranger = await makeKeys();
    try {
      const { token } = await mintTicket(stranger.ticketKeys, claims, T0);
      const error = (await verifyTicket(token, keys.ticketKeys, verifyOptions()).catch((e: unknown) => e)) as Error & {
        code: string;
      };
      expect(error).toMatchObject({ code: 'token_invalid' });
      expect(error.message).not.toContain(token.split('.')[2]);
    } finally {
      await stranger.cleanup();
    }
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: TICKET_TYPE })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'i-1', prj: 'main', aud: claims.service, iss: 'dstack-registry-auth', iat: 1, exp: 9e9, jti: 'x' })).toString('base64url')}.`;
    await expect(verifyTicket(none, keys.ticketKeys, verifyOptions())).rejects.toMatchObject({ code: 'token_invalid' });
    const hs = await new SignJWT({
      sub: 'i-1',
      prj: 'main',
      aud: claims.service,
      iss: 'dstack-registry-auth',
      jti: 'x',
    })
      .setProtectedHeader({ alg: 'HS256', typ: TICKET_TYPE, kid: keys.ticketKeys.current.kid })
      .setIssuedAt(T0.getTime() / 1000)
      .setExpirationTime(at(60).getTime() / 1000)
      .sign(new TextEncoder().encode('k'.repeat(32)));
    await expect(verifyTicket(hs, keys.ticketKeys, verifyOptions())).rejects.toMatchObject({ code: 'token_invalid' });
    // An instance token (same claims shape, other typ) is not a ticket, even with the same key.
    const wrongType = await new SignJWT({
      sub: 'i-1',
      prj: 'main',
      aud: claims.service,
      iss: 'dstack-registry-auth',
      jti: 'x',
    })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'dstack-instance+jwt', kid: keys.ticketKeys.current.kid })
      .setIssuedAt(T0.getTime() / 1000)
      .setExpirationTime(at(60).getTime() / 1000)
      .sign(keys.ticketKeys.current.privateKey);
    await expect(verifyTicket(wrongType, keys.ticketKeys, verifyOptions())).rejects.toMatchObject({
      code: 'token_invalid',
    });
    await expect(verifyTicket('not.a.jwt', keys.ticketKeys, verifyOptions())).rejects.toMatchObject({
      code: 'token_invalid',
    });
  });

  it('keep working across a key rotation while the old key is still in the ring', async () => {
    const { token } = await mintTicket(keys.ticketKeys, claims, T0);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const fresh: SigningKey = { kid: 'fresh-kid', alg: 'EdDSA', privateKey, publicKey };
    const rotated: KeyRing = { current: fresh, all: [fresh, keys.ticketKeys.current] };
    await expect(verifyTicket(token, rotated, verifyOptions())).resolves.toMatchObject({ instance: 'i-1' });
    const { token: newer } = await mintTicket(rotated, claims, T0);
    expect(decodeProtectedHeader(newer).kid).toBe('fresh-kid');
    await expect(verifyTicket(newer, rotated, verifyOptions())).resolves.toMatchObject({ instance: 'i-1' });
    const retired: KeyRing = { current: fresh, all: [fresh] };
    await expect(verifyTicket(token, retired, verifyOptions())).rejects.toMatchObject({ code: 'token_invalid' });
  });

  it('are signed by the ticket ring only (an EdDSA ring is required)', async () => {
    const es = await loadKeyRing({ dataDir: keys.dataDir, name: 'es-test', alg: 'ES256' });
    await expect(mintTicket(es, claims, T0)).rejects.toThrow(/EdDSA/);
  });
});
