import type { Secret } from '../../../common/secret.ts';
import { readTokenAnswer, type RegistryTokenAnswer } from '../../../registry/token-answer.ts';
import { realmShown, requestRealmToken } from '../../../registry/token-realm.ts';
import type { TokenRealm } from './discover-realm.ts';
import { TOKEN_POLICY, upstreamRequest, UpstreamUnreachable, type RetryPolicy } from './upstream-request.ts';

export interface RealmAccount {
  username: string;
  password: Secret;
}

// How a token request ended. Every failure carries what the service log may say: the realm's
// HTTP status or a network code, never the realm's body and never the password.
export type RealmResult =
  | { ok: true; answer: RegistryTokenAnswer; method: 'GET' | 'POST' }
  | { ok: false; kind: 'refused' | 'failed'; why: string };

export interface RealmRequestOptions {
  now: () => Date;
  // Realms that refused GET (404/405) and took the OAuth2 password grant, by realm URL: asked
  // with POST first from then on. Owned by the caller (one per broker source).
  prefersPost: Set<string>;
  policy?: RetryPolicy;
}

// The broker's side of the distribution token flow (src/registry/token-realm.ts): a registry
// token for `repository:<name>:pull` and nothing else, asked with the password the service
// keeps, each request retried on network errors, 429 and 5xx by the broker's policy.
export async function requestRegistryToken(
  realm: TokenRealm,
  account: RealmAccount,
  repository: string,
  options: RealmRequestOptions,
): Promise<RealmResult> {
  const { now, prefersPost, policy = TOKEN_POLICY } = options;
  const realmUrl = new URL(realm.realm);
  const postFirst = prefersPost.has(realm.realm);
  let attempts = 0;
  let method: 'GET' | 'POST' = postFirst ? 'POST' : 'GET';
  const requestedAt = now();
  let result;
  try {
    result = await requestRealmToken(
      async (exchange) => {
        method = exchange.method;
        const response = await upstreamRequest(
          exchange.url.toString(),
          () => ({
            method: exchange.method,
            headers: { ...exchange.headers, 'user-agent': 'dstack-registry-auth' },
            ...(exchange.body !== undefined ? { body: exchange.body } : {}),
          }),
          policy,
          { readBody: true },
        );
        attempts = response.attempts;
        return response;
      },
      {
        realm: realmUrl,
        ...(realm.service !== undefined ? { service: realm.service } : {}),
        scope: `repository:${repository}:pull`,
        credential: { username: account.username, secret: account.password },
        clientId: 'dstack-registry-auth',
        postFirst,
      },
    );
  } catch (error) {
    if (error instanceof UpstreamUnreachable)
      return {
        ok: false,
        kind: 'failed',
        why: `${method} ${realmShown(realmUrl)} failed (${error.why}, ${attemptsText(error.attempts)})`,
      };
    throw error;
  }
  if (!result.ok)
    return {
      ok: false,
      kind: result.kind,
      why:
        result.status === 200
          ? `${result.method} ${realmShown(realmUrl)} answered HTTP 200 without a token`
          : `${result.method} ${realmShown(realmUrl)} answered HTTP ${result.status} (${attemptsText(attempts)})`,
    };
  if (result.method === 'POST' && !postFirst) prefersPost.add(realm.realm);
  return { ok: true, answer: readTokenAnswer(result.fields, repository, requestedAt)!, method: result.method };
}

function attemptsText(count: number): string {
  return `${count} attempt${count === 1 ? '' : 's'}`;
}
