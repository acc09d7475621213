import { CodedError } from '../../../common/errors.ts';
import { Secret } from '../../../common/secret.ts';
import { tokenLife } from '../../../registry/token-answer.ts';
import { realmShown, requestRealmToken } from '../../../registry/token-realm.ts';
import type { UpstreamHttp } from './upstream-http.ts';

// The endpoint's side of the distribution token flow (src/registry/token-realm.ts): trade the
// credential from the service (a ticket, or a password a static source hands out) at the
// upstream's realm for a registry token for one scope, over the endpoint's upstream HTTP.
export interface RegistryToken {
  token: Secret;
  expiresAt: number; // ms since the epoch
}

const MAX_TOKEN_BODY = 64 * 1024;

export async function fetchRegistryToken(
  http: UpstreamHttp,
  // The realm checked by the caller (src/registry/token-realm.ts checkRealm), and the
  // challenge's `service`.
  { realm, service }: { realm: URL; service?: string | undefined },
  scope: string | undefined,
  credential: { username: string; secret: Secret } | undefined,
  now: () => number,
): Promise<RegistryToken> {
  const requestedAt = new Date(now());
  const result = await requestRealmToken(
    async ({ method, url, headers, body }) => {
      const answer = await http.exchange({
        method,
        url,
        headers,
        ...(body !== undefined ? { body } : {}),
        maxBody: MAX_TOKEN_BODY,
      });
      return { status: answer.status, body: answer.body };
    },
    {
      realm,
      ...(service ? { service } : {}),
      ...(scope ? { scope } : {}),
      ...(credential ? { credential } : {}),
      clientId: 'docker-credential-dstack',
    },
  );
  if (!result.ok && result.kind === 'refused')
    throw new CodedError(
      'credential_refused',
      `the token realm ${realmShown(realm)} refused the credential (HTTP ${result.status})`,
    );
  if (!result.ok)
    throw new CodedError(
      'realm_failed',
      result.status === 200
        ? `the token realm ${realmShown(realm)} sent no token`
        : `the token realm ${realmShown(realm)} answered HTTP ${result.status}`,
    );
  // The lifetime as the service's broker reads it too: `expires_in` (60 s when absent), no
  // longer than the JWT's own exp − iat, started at `issued_at` when the realm reuses a token.
  const { expiresAt } = tokenLife(result.fields, requestedAt);
  return { token: new Secret(result.fields.token), expiresAt: expiresAt.getTime() };
}

// When a cached token is given up: shortly before its end (a quarter of its life, at most
// 30 s), so a pull never starts with a token that expires mid-way.
export function refreshAt(token: RegistryToken, fetchedAt: number): number {
  const life = token.expiresAt - fetchedAt;
  return token.expiresAt - Math.min(30_000, life / 4);
}
