import { describe, expect, it } from 'vitest';
import { clockSkewNote, expiryOnHost } from '../../../src/host/credentials/credential-lifetime.ts';

// The service's clock (its Date header) and the host's disagree by a day either way: the life
// on the host is what the service's clock leaves, from the moment of receipt.
const SERVICE_NOW = new Date('2026-12-04T10:00:00.000Z');
const EXPIRES = new Date(SERVICE_NOW.getTime() + 600_000);
const DAY = 86_400_000;

describe('expiryOnHost', () => {
  it.each([
    ['a day behind', -DAY],
    ['on time', 0],
    ['a day ahead', DAY],
  ])('host clock %s: 10 minutes from receipt', (_what, offset) => {
    const receivedAt = new Date(SERVICE_NOW.getTime() + offset + 250);
    expect(expiryOnHost({ expiresAt: EXPIRES, serviceDate: SERVICE_NOW }, receivedAt).getTime()).toBe(
      receivedAt.getTime() + 600_000,
    );
  });

  it('floors to whole seconds: Date drops the milliseconds of the reading expires_at came from', () => {
    // The service read 10:00:00.700 and wrote expires_at = that + 10m; its Date says 10:00:00.
    const expiresAt = new Date(SERVICE_NOW.getTime() + 700 + 600_000);
    const receivedAt = new Date(SERVICE_NOW.getTime() - DAY);
    expect(expiryOnHost({ expiresAt, serviceDate: SERVICE_NOW }, receivedAt).getTime() - receivedAt.getTime()).toBe(
      600_000,
    );
  });

  it('already expired by the service clock stays expired on the host', () => {
    const receivedAt = new Date(SERVICE_NOW.getTime() + DAY);
    expect(
      expiryOnHost(
        { expiresAt: new Date(SERVICE_NOW.getTime() - 5000), serviceDate: SERVICE_NOW },
        receivedAt,
      ).getTime(),
    ).toBeLessThan(receivedAt.getTime());
  });

  it('without a Date the host clock is all there is', () => {
    expect(expiryOnHost({ expiresAt: EXPIRES }, new Date(SERVICE_NOW.getTime() - DAY))).toEqual(EXPIRES);
  });
});

describe('clockSkewNote', () => {
  it('names the direction and size of a large skew, says nothing about a small one', () => {
    expect(clockSkewNote({ serviceDate: SERVICE_NOW }, new Date(SERVICE_NOW.getTime() - DAY))).toBe(
      "this host's clock is about 24 h behind the dstack server's (its Date header)",
    );
    expect(clockSkewNote({ serviceDate: SERVICE_NOW }, new Date(SERVICE_NOW.getTime() + 3 * DAY))).toBe(
      "this host's clock is about 3 d ahead of the dstack server's (its Date header)",
    );
    expect(clockSkewNote({ serviceDate: SERVICE_NOW }, new Date(SERVICE_NOW.getTime() + 30_000))).toBeUndefined();
    expect(clockSkewNote({}, new Date(0))).toBeUndefined();
  });
});
