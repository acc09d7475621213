import { parseChallenges } from '../../../registry/auth-challenges.ts';

// An upstream registry's WWW-Authenticate challenge, as far as a pull needs it.
export type Challenge = { scheme: 'basic' } | { scheme: 'bearer'; realm: string; service?: string; scope?: string };

// The first Basic or Bearer challenge of a WWW-Authenticate header (the shared parser in
// src/registry/auth-challenges.ts reads them; repeated headers come as an array). Other
// schemes, and a Bearer challenge without a realm, are not challenges the endpoint answers.
export function parseChallenge(header: string | string[] | undefined): Challenge | undefined {
  if (header === undefined) return undefined;
  for (const text of Array.isArray(header) ? header : [header]) {
    for (const { scheme, params } of parseChallenges(text)) {
      if (scheme === 'basic') return { scheme: 'basic' };
      if (scheme === 'bearer' && params.realm) {
        return {
          scheme: 'bearer',
          realm: params.realm,
          ...(params.service ? { service: params.service } : {}),
          ...(params.scope ? { scope: params.scope } : {}),
        };
      }
    }
  }
  return undefined;
}
