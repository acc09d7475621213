import { signJwt } from './jwt-sign.ts';
import { certificateDerBase64 } from './certificate.ts';
import type { GrantedAccess } from './scope.ts';
import type { RegistryKeyRing } from './registry-signing-keys.ts';

// Distribution treats anything shorter as 60 s; asking for less would only confuse clients.
export const MIN_REGISTRY_TOKEN_TTL_SECONDS = 60;

export interface RegistryTokenClaims {
  // Our issuer name: the registry's `auth.token.issuer`.
  issuer: string;
  // The instance, or '' for an anonymous request.
  subject: string;
  // The `service` the registry named in its challenge (one string: distribution 2.8 wants that).
  audience: string;
  access: GrantedAccess[];
  ttlSeconds: number;
}

export interface RegistryToken {
  token: string;
  expiresIn: number;
  issuedAt: Date;
  expiresAt: Date;
}

// The bearer token a registry verifies: a JWT signed by the current registry key (ES256/RS256)
// with that key's certificate in `x5c`, so a registry trusting the bundle accepts it.
// Timestamps are whole seconds (Go's decoder wants integers).
export async function mintRegistryToken(
  keys: RegistryKeyRing,
  claims: RegistryTokenClaims,
  now: Date,
): Promise<RegistryToken> {
  const key = keys.current;
  const certificate = keys.certificates.get(key.kid);
  if (!certificate) throw new Error(`no certificate for registry signing key ${key.kid}`);
  const issuedAt = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const expiresIn = Math.max(MIN_REGISTRY_TOKEN_TTL_SECONDS, Math.floor(claims.ttlSeconds));
  const { token, expiresAt } = await signJwt(key, {
    typ: 'JWT',
    header: { x5c: [certificateDerBase64(certificate)] },
    claims: {
      iss: claims.issuer,
      sub: claims.subject,
      aud: claims.audience,
      nbf: issuedAt.getTime() / 1000,
      access: claims.access.map((entry) => ({ type: entry.type, name: entry.name, actions: [...entry.actions] })),
    },
    issuedAt,
    expiresAt: new Date(issuedAt.getTime() + expiresIn * 1000),
  });
  return { token, expiresIn, issuedAt, expiresAt };
}
