import { decodeJwt } from 'jose';
import { readTokenAnswerFields, type TokenAnswerFields } from './token-realm.ts';

// The distribution token specification's default when a realm gives no `expires_in`.
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 60;

export interface RegistryTokenAnswer {
  token: string;
  expiresAt: Date;
  lifetimeSeconds: number;
  // false only when the token is a JWT whose `access` claim lacks pull on the repository.
  grantsPull: boolean;
}

// A realm's 200 body: `{"token"|"access_token", "expires_in", "issued_at"}`, or undefined when
// it is not one. `requestedAt` is our clock when we asked.
export function readTokenAnswer(
  body: string | TokenAnswerFields,
  repository: string,
  requestedAt: Date,
): RegistryTokenAnswer | undefined {
  const fields = typeof body === 'string' ? readTokenAnswerFields(body) : body;
  if (fields === undefined) return undefined;
  const claims = jwtClaims(fields.token);
  return {
    token: fields.token,
    ...tokenLife(fields, requestedAt, claims),
    grantsPull: claims === undefined || grantsPull(claims.access, repository),
  };
}

// How long a realm's token lives, and when it ends on our clock: what both halves cache by
// (the endpoint's registry tokens, the broker's answers).
export function tokenLife(
  fields: TokenAnswerFields,
  requestedAt: Date,
  claims: Record<string, unknown> | undefined = jwtClaims(fields.token),
): { lifetimeSeconds: number; expiresAt: Date } {
  const lifetimeSeconds = tokenLifetime(fields.expiresIn, claims);
  const issuedAt = typeof fields.issuedAt === 'string' ? new Date(fields.issuedAt) : undefined;
  return { lifetimeSeconds, expiresAt: tokenExpiry(lifetimeSeconds, issuedAt, requestedAt) };
}

// `expires_in` (60 s when absent), shortened to the JWT's own `exp - iat` when the token says
// it lives less: both are the realm's clock, so their difference is a true lifetime.
export function tokenLifetime(expiresIn: unknown, claims: Record<string, unknown> | undefined): number {
  let lifetime =
    typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0
      ? expiresIn
      : DEFAULT_TOKEN_LIFETIME_SECONDS;
  const exp = claims?.exp;
  const iat = claims?.iat;
  if (typeof exp === 'number' && typeof iat === 'number' && exp > iat) lifetime = Math.min(lifetime, exp - iat);
  return lifetime;
}

// The end of the token's life on our clock. A realm that hands out a token issued before we asked
// (one it reuses) has used up part of it: `issued_at` moves the start back. One that claims to
// have issued it after we asked, or so long ago that it would be dead already, has a clock that
// differs from ours: then the moment we asked is the start.
export function tokenExpiry(lifetimeSeconds: number, issuedAt: Date | undefined, requestedAt: Date): Date {
  let start = requestedAt.getTime();
  const issued = issuedAt?.getTime();
  if (issued !== undefined && Number.isFinite(issued) && issued < start && start - issued < lifetimeSeconds * 1000)
    start = issued;
  return new Date(start + lifetimeSeconds * 1000);
}

// Whether an `access` claim includes pull on the repository. A JWT without an `access` claim
// is the realm's own format, and the registry will judge it: trusted.
export function grantsPull(access: unknown, repository: string): boolean {
  if (access === undefined) return true;
  if (!Array.isArray(access)) return false;
  return access.some((entry: unknown) => {
    const item = entry as { type?: unknown; name?: unknown; actions?: unknown };
    return (
      item?.type === 'repository' &&
      item.name === repository &&
      Array.isArray(item.actions) &&
      (item.actions.includes('pull') || item.actions.includes('*'))
    );
  });
}

// The payload of a JWT, read without verifying (only the registry can); undefined for an opaque token.
function jwtClaims(token: string): Record<string, unknown> | undefined {
  try {
    return decodeJwt(token) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
