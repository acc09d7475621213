// A bounded memory of token strings whose signature this process has verified, with what
// the verification gave (an instance identity, a pull ticket). Hosts present the same token
// on every pull, and the signature check is most of a request's cost; the claims that depend
// on time or shared state (expiry, audience, revocation) stay the caller's to check each time.
// Only successful verifications are stored, keyed by the whole token, so a forged token or a
// known signature paired with other claims never matches. Full: the oldest entry goes first.
export interface VerifiedTokens<T> {
  get(token: string): T | undefined;
  set(token: string, value: T): void;
  delete(token: string): void;
}

export const DEFAULT_VERIFIED_TOKENS = 10_000;

export function createVerifiedTokens<T>(maxEntries = DEFAULT_VERIFIED_TOKENS): VerifiedTokens<T> {
  const entries = new Map<string, T>();
  return {
    get: (token) => entries.get(token),
    set(token, value) {
      if (!entries.has(token) && entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(token, value);
    },
    delete(token) {
      entries.delete(token);
    },
  };
}
