import type { InstanceIdentity } from '../core/ports.ts';
import { CLOCK_TOLERANCE_SECONDS } from './jwt-verify.ts';
import { createVerifiedTokens, DEFAULT_VERIFIED_TOKENS } from './verified-tokens.ts';

// Instance tokens whose signature verified (src/service/token/verified-tokens.ts). The caller still
// checks the revocation store per request; expiry is checked here, and outside a token's
// window the entry is dropped so the full check decides and gives the precise error.
export interface VerifiedTokenCache {
  // The identity of a token verified before, when it is still inside its lifetime at `now`.
  get(token: string, now: Date): InstanceIdentity | undefined;
  set(token: string, identity: InstanceIdentity): void;
}

export function createVerifiedTokenCache(maxEntries = DEFAULT_VERIFIED_TOKENS): VerifiedTokenCache {
  const verified = createVerifiedTokens<InstanceIdentity>(maxEntries);
  const toleranceMs = CLOCK_TOLERANCE_SECONDS * 1000;
  return {
    get(token, now) {
      const identity = verified.get(token);
      if (!identity) return undefined;
      const t = now.getTime();
      if (t >= identity.expiresAt.getTime() + toleranceMs || identity.issuedAt.getTime() > t + toleranceMs) {
        verified.delete(token);
        return undefined;
      }
      return identity;
    },
    set: (token, identity) => verified.set(token, identity),
  };
}
