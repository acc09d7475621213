import type { InstanceIdentity } from './ports.ts';
import { CLOCK_TOLERANCE_SECONDS } from '../token/jwt-verify.ts';

// Signature verification is most of a credential request's cost, and a host presents the
// same instance token on every pull. A token string that verified once against this
// process's keys verifies again, so its identity is kept here. Only what depends on time and
// on shared state is redone per request by the caller: expiry and the revocation lookup.
// Forged tokens never enter (only successful verifications are stored).
export interface VerifiedTokenCache {
  // The identity of a token verified before, when it is still inside its lifetime at `now`.
  get(token: string, now: Date): InstanceIdentity | undefined;
  set(token: string, identity: InstanceIdentity): void;
}

export function createVerifiedTokenCache(maxEntries = 10_000): VerifiedTokenCache {
  const entries = new Map<string, InstanceIdentity>();
  const toleranceMs = CLOCK_TOLERANCE_SECONDS * 1000;
  return {
    get(token, now) {
      const identity = entries.get(token);
      if (!identity) return undefined;
      const t = now.getTime();
      // Outside the window the full check decides (and gives the precise error).
      if (t >= identity.expiresAt.getTime() + toleranceMs || identity.issuedAt.getTime() > t + toleranceMs) {
        entries.delete(token);
        return undefined;
      }
      return identity;
    },
    set(token, identity) {
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(token, identity);
    },
  };
}
