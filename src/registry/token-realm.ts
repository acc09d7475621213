import { realmBound } from './realm-binding.ts';
import { credentialUrlProblem, shownUrl, type CredentialUrlProblem } from './url-rules.ts';

// The distribution token flow as both halves use it as a client: the host's mirror endpoint
// (with a ticket or a password the service gave it) and the service's broker (with the
// password it keeps) send a credential to a realm URL that the registry named, and read the
// realm's answer.

// Whether a credential may go to the realm a registry's challenge names, in the words both
// halves use: a URL a credential may cross (src/registry/url-rules.ts) on the registry's own host and port or listed for it
// (src/registry/realm-binding.ts). `bound: false` checks only the URL (an anonymous request
// carries nothing and may go to any realm).
export type RealmCheck =
  | { ok: true; url: URL }
  | { ok: false; problem: CredentialUrlProblem | 'not_url' | 'unbound'; why: string; realmHost?: string };

export function checkRealm(
  text: string | undefined,
  registryHost: string,
  listed: readonly string[],
  options: { bound: boolean } = { bound: true },
): RealmCheck {
  let url: URL;
  try {
    url = new URL(text ?? '');
  } catch {
    return {
      ok: false,
      problem: 'not_url',
      why: text ? `the token realm "${shownUrl(text)}" is not a URL` : 'the challenge names no token realm',
    };
  }
  const problem = credentialUrlProblem(url, text);
  if (problem === 'credentials') return { ok: false, problem, why: 'the token realm carries credentials in its URL' };
  // Past the user-info check, the parsed URL holds no piece of a password.
  const shown = `${url.protocol}//${url.host}${url.pathname.slice(0, 100)}`;
  if (problem === 'not_http') return { ok: false, problem, why: `the token realm ${shown} is not http(s)` };
  if (problem === 'plain_http')
    return {
      ok: false,
      problem,
      why: `the token realm ${shown} is plain http: the credential would cross the network in clear text`,
    };
  if (options.bound && !realmBound(url, registryHost, listed))
    return {
      ok: false,
      problem: 'unbound',
      why: `the token realm ${shown} is not on the registry's host ${registryHost} nor listed for it: the credential is not sent there`,
      realmHost: url.host,
    };
  return { ok: true, url };
}

// A realm's 200 body as the specification gives it: `token` (or OAuth2's `access_token`),
// `expires_in`, `issued_at`, each left for the caller to judge. undefined when the body is not
// a JSON object with a non-empty token.
export interface TokenAnswerFields {
  token: string;
  expiresIn: unknown;
  issuedAt: unknown;
}

export function readTokenAnswerFields(body: string): TokenAnswerFields | undefined {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const value = data as Record<string, unknown>;
  const token =
    typeof value.token === 'string' && value.token !== ''
      ? value.token
      : typeof value.access_token === 'string' && value.access_token !== ''
        ? value.access_token
        : undefined;
  return token === undefined ? undefined : { token, expiresIn: value.expires_in, issuedAt: value.issued_at };
}

// One request to a realm, and its answer read whole (token answers are a few KiB), as each
// half sends it: the host's endpoint over its upstream HTTP (the host's CA and proxy, its
// timeouts), the service's broker with its retry policy. A network failure is thrown, in the
// transport's own words.
export interface RealmExchange {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
}
export type RealmTransport = (exchange: RealmExchange) => Promise<{ status: number; body: string }>;

export interface RealmTokenRequest {
  realm: URL;
  service?: string;
  scope?: string;
  // Anonymous when absent: then only GET is asked (the password grant needs a password).
  credential?: { username: string; secret: { reveal(): string } };
  // OAuth2's client_id: who asks (docker-credential-dstack, dstack-registry-auth).
  clientId: string;
  // A realm known to refuse GET is asked with the password grant first.
  postFirst?: boolean;
}

// How a token request ended: the fields of a 200 answer, or why not — `refused` for 401/403
// (the credential is wrong), `failed` for any other status or a 200 without a token.
export type RealmTokenResult =
  | { ok: true; fields: TokenAnswerFields; method: 'GET' | 'POST' }
  | { ok: false; kind: 'refused' | 'failed'; method: 'GET' | 'POST'; status: number };

// The distribution token flow as a client: GET with Basic auth (what dockerd does), and when
// the realm does not serve that (404/405) the OAuth2 password grant as a POST form
// (containerd's way, and the only form some realms speak).
export async function requestRealmToken(
  transport: RealmTransport,
  request: RealmTokenRequest,
): Promise<RealmTokenResult> {
  const { credential } = request;
  const order: ('GET' | 'POST')[] = !credential ? ['GET'] : request.postFirst ? ['POST', 'GET'] : ['GET', 'POST'];
  let last: RealmTokenResult | undefined;
  for (const method of order) {
    const answer = await transport(method === 'GET' ? getExchange(request) : postExchange(request));
    if (answer.status === 200) {
      const fields = readTokenAnswerFields(answer.body);
      return fields ? { ok: true, fields, method } : { ok: false, kind: 'failed', method, status: 200 };
    }
    last = {
      ok: false,
      kind: answer.status === 401 || answer.status === 403 ? 'refused' : 'failed',
      method,
      status: answer.status,
    };
    // Only "this method is not served here" moves on to the other form.
    if (answer.status !== 404 && answer.status !== 405) return last;
  }
  return last!;
}

function getExchange({ realm, service, scope, credential }: RealmTokenRequest): RealmExchange {
  const url = new URL(realm);
  if (service !== undefined) url.searchParams.set('service', service);
  if (scope !== undefined) url.searchParams.set('scope', scope);
  if (!credential) return { method: 'GET', url, headers: {} };
  url.searchParams.set('account', credential.username);
  const basic = Buffer.from(`${credential.username}:${credential.secret.reveal()}`).toString('base64');
  return { method: 'GET', url, headers: { authorization: `Basic ${basic}` } };
}

function postExchange({ realm, service, scope, credential, clientId }: RealmTokenRequest): RealmExchange {
  const form = new URLSearchParams({
    grant_type: 'password',
    username: credential!.username,
    password: credential!.secret.reveal(),
    client_id: clientId,
    access_type: 'online',
  });
  if (scope !== undefined) form.set('scope', scope);
  if (service !== undefined) form.set('service', service);
  return {
    method: 'POST',
    url: realm,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  };
}

// The realm as messages and logs show it: no query (it may name the account).
export function realmShown(realm: URL): string {
  return `${realm.origin}${realm.pathname}`;
}
