import type { KeyRing, RevocationStore } from '../core/ports.ts';
import { checkTicket, verifyTicketSignature, type PullTicket } from '../token/ticket.ts';
import { createVerifiedTokens, DEFAULT_VERIFIED_TOKENS } from '../token/verified-tokens.ts';

// A host presents the same ticket for every pull during its few minutes of life, so the
// realm remembers tickets whose signature it has verified (src/service/token/verified-tokens.ts) and
// repeats only the cheap checks: expiry, service and the revocation store, asked every time.
export function createTicketVerifier(options: {
  keys: KeyRing;
  issuer: string;
  revocations: RevocationStore;
  maxEntries?: number;
}) {
  const verified = createVerifiedTokens<PullTicket>(options.maxEntries ?? DEFAULT_VERIFIED_TOKENS);
  return async (token: string, service: string, now: Date): Promise<PullTicket> => {
    let ticket = verified.get(token);
    if (ticket === undefined) {
      ticket = await verifyTicketSignature(token, options.keys, { issuer: options.issuer, now });
      verified.set(token, ticket);
    }
    return checkTicket(ticket, { service, now, revocations: options.revocations });
  };
}
