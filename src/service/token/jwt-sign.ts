import { randomUUID } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import type { SigningKey } from '../core/ports.ts';

export interface SignJwtOptions {
  // The `typ` header, e.g. 'dstack-instance+jwt'.
  typ: string;
  claims: JWTPayload;
  issuedAt: Date;
  expiresAt: Date;
  // Extra protected header fields (e.g. x5c for registry tokens).
  header?: Record<string, unknown>;
  // Millisecond-precise `iat` (a fractional NumericDate, RFC 7519 §2), so a revocation and a
  // token minted in the same second are ordered correctly. Off by default: Go consumers
  // (distribution) need integer timestamps.
  preciseIssuedAt?: boolean;
}

// One compact JWS signed with the given key: `alg` and `kid` from the key, a random `jti`
// unless the claims carry one. Returns the token and the exact expiry written into it.
export async function signJwt(key: SigningKey, options: SignJwtOptions): Promise<{ token: string; expiresAt: Date }> {
  const iat = options.preciseIssuedAt
    ? options.issuedAt.getTime() / 1000
    : Math.floor(options.issuedAt.getTime() / 1000);
  const exp = Math.floor(options.expiresAt.getTime() / 1000);
  const token = await new SignJWT({ jti: randomUUID(), ...options.claims })
    .setProtectedHeader({ ...options.header, alg: key.alg, kid: key.kid, typ: options.typ })
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(key.privateKey);
  return { token, expiresAt: new Date(exp * 1000) };
}
