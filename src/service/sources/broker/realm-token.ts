import type { Secret } from '../../../common/secret.ts';
import type { TokenRealm } from './discover-realm.ts';
import { readTokenAnswer, type RegistryTokenAnswer } from './token-answer.ts';
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

// A registry token for `repository:<name>:pull` and nothing else, as the distribution token
// specification describes: GET with Basic auth (what dockerd does), or the OAuth2 POST
// password grant when the realm refuses GET (some realms only speak it).
export async function requestRegistryToken(
  realm: TokenRealm,
  account: RealmAccount,
  repository: string,
  options: RealmRequestOptions,
): Promise<RealmResult> {
  const { now, prefersPost, policy = TOKEN_POLICY } = options;
  const scope = `repository:${repository}:pull`;
  const order: ('GET' | 'POST')[] = prefersPost.has(realm.realm) ? ['POST', 'GET'] : ['GET', 'POST'];
  let last: RealmResult | undefined;
  for (const method of order) {
    const requestedAt = now();
    let response;
    try {
      response =
        method === 'GET'
          ? await getToken(realm, account, scope, policy)
          : await postToken(realm, account, scope, policy);
    } catch (error) {
      if (error instanceof UpstreamUnreachable)
        return {
          ok: false,
          kind: 'failed',
          why: `${method} ${realmName(realm)} failed (${error.why}, ${attempts(error.attempts)})`,
        };
      throw error;
    }
    if (response.status === 200) {
      const answer = readTokenAnswer(response.body, repository, requestedAt);
      if (!answer)
        return { ok: false, kind: 'failed', why: `${method} ${realmName(realm)} answered HTTP 200 without a token` };
      if (method === 'POST' && order[0] === 'GET') prefersPost.add(realm.realm);
      return { ok: true, answer, method };
    }
    const why = `${method} ${realmName(realm)} answered HTTP ${response.status} (${attempts(response.attempts)})`;
    last = { ok: false, kind: response.status === 401 || response.status === 403 ? 'refused' : 'failed', why };
    // Only "this method is not served here" moves on to the other form.
    if (response.status !== 404 && response.status !== 405) return last;
  }
  return last!;
}

function getToken(realm: TokenRealm, account: RealmAccount, scope: string, policy: RetryPolicy) {
  const url = new URL(realm.realm);
  if (realm.service !== undefined) url.searchParams.set('service', realm.service);
  url.searchParams.set('scope', scope);
  url.searchParams.set('account', account.username);
  const basic = Buffer.from(`${account.username}:${account.password.reveal()}`).toString('base64');
  return upstreamRequest(
    url.toString(),
    () => ({ method: 'GET', headers: { authorization: `Basic ${basic}`, 'user-agent': 'dstack-registry-auth' } }),
    policy,
    { readBody: true },
  );
}

function postToken(realm: TokenRealm, account: RealmAccount, scope: string, policy: RetryPolicy) {
  const form = new URLSearchParams({
    grant_type: 'password',
    username: account.username,
    password: account.password.reveal(),
    scope,
    client_id: 'dstack-registry-auth',
    access_type: 'online',
  });
  if (realm.service !== undefined) form.set('service', realm.service);
  const body = form.toString();
  return upstreamRequest(
    realm.realm,
    () => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'dstack-registry-auth' },
      body,
    }),
    policy,
    { readBody: true },
  );
}

// The realm as logs show it: no query (it may name the account).
function realmName(realm: TokenRealm): string {
  const url = new URL(realm.realm);
  return `${url.origin}${url.pathname}`;
}

function attempts(count: number): string {
  return `${count} attempt${count === 1 ? '' : 's'}`;
}
