import { CodedError } from '../../../common/errors.ts';
import { Secret } from '../../../common/secret.ts';
import { readTokenAnswerFields, realmUrlProblem } from '../../../registry/token-realm.ts';
import type { Challenge } from './challenge.ts';
import type { UpstreamHttp } from './upstream-http.ts';

// The distribution token flow as a client: trade a username and secret at the registry's
// realm for a registry token for one scope. GET with Basic auth (what dockerd does); a realm
// that refuses GET (404/405) gets the OAuth2 password grant as a POST form (containerd's way).
export interface RegistryToken {
  token: Secret;
  expiresAt: number; // ms since the epoch
}

// Distribution's minimum, and what a realm means when it names no lifetime.
const DEFAULT_EXPIRES_IN_S = 60;
const MAX_TOKEN_BODY = 64 * 1024;

export async function fetchRegistryToken(
  http: UpstreamHttp,
  challenge: Extract<Challenge, { scheme: 'bearer' }>,
  scope: string | undefined,
  credential: { username: string; secret: Secret } | undefined,
  now: () => number,
): Promise<RegistryToken> {
  const realm = realmUrl(challenge.realm);
  const query = new URLSearchParams();
  if (challenge.service) query.set('service', challenge.service);
  if (scope) query.set('scope', scope);
  const basic = credential
    ? `Basic ${Buffer.from(`${credential.username}:${credential.secret.reveal()}`).toString('base64')}`
    : undefined;
  const getUrl = new URL(realm);
  for (const [k, v] of query) getUrl.searchParams.append(k, v);
  let answer = await http.exchange({
    method: 'GET',
    url: getUrl,
    headers: basic ? { authorization: basic } : {},
    maxBody: MAX_TOKEN_BODY,
  });
  if ((answer.status === 404 || answer.status === 405) && credential) {
    const form = new URLSearchParams({
      grant_type: 'password',
      username: credential.username,
      password: credential.secret.reveal(),
      client_id: 'docker-credential-dstack',
    });
    for (const [k, v] of query) form.set(k, v);
    answer = await http.exchange({
      method: 'POST',
      url: realm,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      maxBody: MAX_TOKEN_BODY,
    });
  }
  if (answer.status === 401 || answer.status === 403)
    throw new CodedError(
      'credential_refused',
      `the token realm ${realm.origin}${realm.pathname} refused the credential (HTTP ${answer.status})`,
    );
  if (answer.status !== 200)
    throw new CodedError(
      'realm_failed',
      `the token realm ${realm.origin}${realm.pathname} answered HTTP ${answer.status}`,
    );
  return parseTokenAnswer(answer.body, realm, now());
}

// Docker's own client takes an `expires_in` under 60 s as 60 s, as distribution does.
function parseTokenAnswer(body: string, realm: URL, at: number): RegistryToken {
  const fields = readTokenAnswerFields(body);
  if (!fields) throw new CodedError('realm_failed', `the token realm ${realm.origin}${realm.pathname} sent no token`);
  const { expiresIn } = fields;
  const seconds =
    typeof expiresIn === 'number' && expiresIn > 0 ? Math.max(expiresIn, DEFAULT_EXPIRES_IN_S) : DEFAULT_EXPIRES_IN_S;
  return { token: new Secret(fields.token), expiresAt: at + seconds * 1000 };
}

// A realm is an absolute http(s) URL; plain http only on loopback, as for upstreams.
function realmUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CodedError('realm_failed', `the upstream's token realm "${text.slice(0, 100)}" is not a URL`);
  }
  const problem = realmUrlProblem(url);
  if (problem === 'credentials')
    throw new CodedError('realm_failed', "the upstream's token realm carries credentials in its URL");
  if (problem === 'not_http')
    throw new CodedError('realm_failed', `the upstream's token realm ${url.origin} is not http(s)`);
  if (problem === 'plain_http')
    throw new CodedError(
      'realm_failed',
      `the upstream's token realm ${url.origin} is plain http: the credential would cross the network in clear text`,
    );
  return url;
}

// When a cached token is given up: shortly before its end (a quarter of its life, at most
// 30 s), so a pull never starts with a token that expires mid-way.
export function refreshAt(token: RegistryToken, fetchedAt: number): number {
  const life = token.expiresAt - fetchedAt;
  return token.expiresAt - Math.min(30_000, life / 4);
}
