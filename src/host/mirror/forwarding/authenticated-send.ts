import type { MirrorError } from '../upstream/registry-error.ts';
import type { Upstream } from '../upstream/upstream.ts';
import { credentialFailure } from './credential-failure.ts';
import type { PullDeps } from './forward-pull.ts';

// The upstream's 401, as a sender reports it (its body already drained).
export interface Unauthorized {
  kind: 'unauthorized';
  challenge: string | string[] | undefined;
}

export type AuthenticatedAnswer<T> =
  | { kind: 'credential_failed'; error: MirrorError }
  | { kind: 'answered'; answer: T | Unauthorized; anonymous: boolean };

// The one way the endpoint authenticates a request upstream, for a pull and for the probe:
// the credential the service gives this host for the repository (mirror-credentials.ts),
// answered to the upstream's challenge (upstream-auth.ts). A 401 forgets both, the registry
// token of that scope and the cached credential, and the request is sent once more with fresh
// ones; a second 401 is the caller's to word (`anonymous` says whether a credential was sent).
export async function sendAuthenticated<T>(
  deps: Pick<PullDeps, 'auth' | 'credentials'>,
  upstream: Upstream,
  repository: string,
  send: (authorization: string | undefined) => Promise<T | Unauthorized>,
): Promise<AuthenticatedAnswer<T>> {
  for (let refreshed = false; ; refreshed = true) {
    let authorization: string | undefined;
    let anonymous: boolean;
    try {
      const credential = await deps.credentials.get(upstream.registry, repository);
      anonymous = credential === undefined;
      authorization = await deps.auth.authorization(upstream, repository, credential);
    } catch (error) {
      return { kind: 'credential_failed', error: credentialFailure(error, upstream) };
    }
    const answer = await send(authorization);
    if (isUnauthorized(answer) && !refreshed) {
      deps.auth.refused(upstream, repository, answer.challenge);
      deps.credentials.drop(upstream.registry, repository);
      continue;
    }
    return { kind: 'answered', answer, anonymous };
  }
}

export function isUnauthorized(answer: unknown): answer is Unauthorized {
  return (answer as { kind?: unknown } | null)?.kind === 'unauthorized';
}
