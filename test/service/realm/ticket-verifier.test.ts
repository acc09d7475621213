import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTicketVerifier } from '../../../src/service/realm/ticket-verifier.ts';
import { mintTicket, TICKET_CLOCK_TOLERANCE_SECONDS } from '../../../src/service/token/ticket.ts';
import { makeKeys, memoryRevocations, type Keys } from '../../helpers/realm-fixtures.ts';

const T0 = new Date('2026-11-26T20:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const SERVICE = 'registry.example:5000';
let keys: Keys;
beforeAll(async () => {
  keys = await makeKeys();
});
afterAll(() => keys.cleanup());

const ticket = async (instance = 'i-1') =>
  (
    await mintTicket(
      keys.ticketKeys,
      { instance, project: 'main', service: SERVICE, ttlSeconds: 300, issuer: 'dstack-registry-auth' },
      T0,
    )
  ).token;

describe('the realm ticket verifier (signature checks remembered)', () => {
  it('still applies expiry, service and revocation to a ticket it has seen', async () => {
    const revocations = memoryRevocations();
    const verify = createTicketVerifier({ keys: keys.ticketKeys, issuer: 'dstack-registry-auth', revocations });
    const token = await ticket();
    await expect(verify(token, SERVICE, at(1))).resolves.toMatchObject({ instance: 'i-1' });
    await expect(verify(token, 'other.example', at(2))).rejects.toMatchObject({ code: 'token_wrong_service' });
    await expect(verify(token, SERVICE, at(300 + TICKET_CLOCK_TOLERANCE_SECONDS + 1))).rejects.toMatchObject({
      code: 'token_expired',
    });
    await revocations.revoke('i-1', at(3));
    await expect(verify(token, SERVICE, at(4))).rejects.toMatchObject({ code: 'token_revoked' });
  });

  it('does not let a known signature vouch for other claims', async () => {
    const verify = createTicketVerifier({
      keys: keys.ticketKeys,
      issuer: 'dstack-registry-auth',
      revocations: memoryRevocations(),
    });
    const token = await ticket();
    await verify(token, SERVICE, at(1));
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'i-admin' })).toString('base64url')}.${signature}`;
    await expect(verify(forged, SERVICE, at(1))).rejects.toMatchObject({ code: 'token_invalid' });
  });

  it('stays bounded and keeps verifying after evictions', async () => {
    const verify = createTicketVerifier({
      keys: keys.ticketKeys,
      issuer: 'dstack-registry-auth',
      revocations: memoryRevocations(),
      maxEntries: 4,
    });
    const tokens = await Promise.all(Array.from({ length: 10 }, (_, i) => ticket(`i-${i}`)));
    for (const token of tokens) await expect(verify(token, SERVICE, at(1))).resolves.toBeDefined();
    for (const token of tokens) await expect(verify(token, SERVICE, at(2))).resolves.toBeDefined();
  });
});
