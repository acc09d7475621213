import { isLoopbackHost } from './loopback.ts';

// The distribution token flow as both halves use it as a client: the host's mirror endpoint
// (with a ticket or a password the service gave it) and the service's broker (with the
// password it keeps) send a credential to a realm URL that the registry named, and read the
// realm's answer.

// Why a realm URL must not receive a credential, or undefined when it may: user info in the
// URL, a scheme other than http(s), or plain http off loopback (the credential would cross
// the network in clear text).
export type RealmUrlProblem = 'credentials' | 'not_http' | 'plain_http';

export function realmUrlProblem(url: URL): RealmUrlProblem | undefined {
  if (url.username !== '' || url.password !== '') return 'credentials';
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'not_http';
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) return 'plain_http';
  return undefined;
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
