import { createHash } from 'node:crypto';
import type { KeyRing, RevocationStore } from '../server/ports.ts';
import { checkTicket, verifyTicketSignature, type PullTicket } from '../token/ticket.ts';

const MAX_ENTRIES = 10_000;

// A host presents the same ticket for every pull during its few minutes of life, so the
// realm remembers tickets whose signature it has verified (keyed by a hash of the whole
// ticket, never by a part an attacker could pair with other claims) and repeats only the
// cheap checks: expiry, service and the revocation store, which is asked every time.
export function createTicketVerifier(options: { keys: KeyRing; issuer: string; revocations: RevocationStore; maxEntries?: number }) {
  const verified = new Map<string, PullTicket>();
  const limit = options.maxEntries ?? MAX_ENTRIES;
  return async (token: string, service: string, now: Date): Promise<PullTicket> => {
    const key = createHash('sha256').update(token).digest('base64url');
    let ticket = verified.get(key);
    if (ticket === undefined) {
      ticket = await verifyTicketSignature(token, options.keys, { issuer: options.issuer, now });
      if (verified.size >= limit) dropExpired(verified, now, limit);
      verified.set(key, ticket);
    }
    return checkTicket(ticket, { service, now, revocations: options.revocations });
  };
}

// Expired entries go first; if the cache is still full, the oldest half goes too.
function dropExpired(verified: Map<string, PullTicket>, now: Date, limit: number): void {
  for (const [key, ticket] of verified) if (ticket.expiresAt.getTime() < now.getTime() - 60_000) verified.delete(key);
  if (verified.size < limit) return;
  let excess = verified.size - Math.floor(limit / 2);
  for (const key of verified.keys()) {
    if (excess-- <= 0) break;
    verified.delete(key);
  }
}
