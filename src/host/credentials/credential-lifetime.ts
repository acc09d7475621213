import type { ServiceCredential } from '../client/service-client.ts';

// `expires_at` is a reading of the service's clock, and this host's clock may be a day off
// either way: compared with the host's clock it would cache a 10-minute credential for a day
// (host behind) or throw every answer away as expired (host ahead). So the life on this host
// is what the service's own clock leaves of it, `expires_at − Date` of the same answer,
// counted from the moment this host received it. `Date` has whole seconds and the service
// writes it from the reading expires_at was computed from, so the difference is floored to
// whole seconds: a whole-second TTL comes out exact. Without a Date (a proxy dropped it) the
// host's clock is all there is. The cache caps the result as before (cappedExpiry).
export function expiryOnHost(credential: Pick<ServiceCredential, 'expiresAt' | 'serviceDate'>, receivedAt: Date): Date {
  if (credential.serviceDate === undefined) return credential.expiresAt;
  const remainingMs = Math.floor((credential.expiresAt.getTime() - credential.serviceDate.getTime()) / 1000) * 1000;
  return new Date(receivedAt.getTime() + remainingMs);
}

// Beyond this the two clocks disagree by more than a slow answer explains: worth a warning.
const SKEW_WARN_MS = 60_000;

// "this host's clock is about 1 d behind …", or undefined when the clocks agree (or no Date came).
export function clockSkewNote(
  credential: Pick<ServiceCredential, 'serviceDate'>,
  receivedAt: Date,
): string | undefined {
  if (credential.serviceDate === undefined) return undefined;
  const skewMs = receivedAt.getTime() - credential.serviceDate.getTime();
  if (Math.abs(skewMs) <= SKEW_WARN_MS) return undefined;
  return `this host's clock is about ${roughly(Math.abs(skewMs))} ${skewMs < 0 ? 'behind' : 'ahead of'} the dstack server's (its Date header)`;
}

function roughly(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} d`;
}
