import { CodedError } from '../../common/errors.ts';
import type { InstanceIdentity, KeyRing, RevocationStore } from '../core/ports.ts';
import { isRevoked } from '../store/is-revoked.ts';
import { signJwt } from './jwt-sign.ts';
import { verifySignedJwt } from './jwt-verify.ts';

export const INSTANCE_TOKEN_TYPE = 'dstack-instance+jwt';

// The longest lifetime an instance token may have: a year is far beyond any instance's life,
// and an absurd value (999999999d) would overflow the JWT's `exp` and the date of `expires_at`.
export const MAX_INSTANCE_TOKEN_TTL_SECONDS = 365 * 86_400;

// Checks a requested lifetime against the cap, naming where it came from (`--ttl`, `"ttl"`, a setting).
export function checkInstanceTokenTtl(
  ttlSeconds: number,
  setting: string,
  code: 'bad_request' | 'config_invalid',
): number {
  if (ttlSeconds > MAX_INSTANCE_TOKEN_TTL_SECONDS) {
    throw new CodedError(
      code,
      `${setting}: an instance token may live at most 365d; use a shorter lifetime such as 30d and issue a new token when it runs out`,
    );
  }
  return ttlSeconds;
}

export interface InstanceTokenClaims {
  instance: string;
  project: string;
  ttlSeconds: number;
  issuer: string;
}

// The credential a runner host holds: who it is (sub) and which project it serves (prj),
// signed by the instance key (EdDSA). iat is millisecond-precise so that a token minted
// right after a revocation is not caught by it.
export async function mintInstanceToken(
  keys: KeyRing,
  claims: InstanceTokenClaims,
  now: Date,
): Promise<{ token: string; expiresAt: Date }> {
  if (keys.current.alg !== 'EdDSA') throw new Error('instance tokens are signed with an EdDSA key ring');
  if (!claims.instance) throw new CodedError('bad_request', 'instance id is empty; pass --instance ID');
  if (!claims.project) throw new CodedError('bad_request', 'project is empty; pass --project NAME');
  if (!(claims.ttlSeconds > 0))
    throw new CodedError('bad_request', 'token lifetime must be positive; pass a --ttl such as 30d');
  checkInstanceTokenTtl(claims.ttlSeconds, 'token lifetime', 'bad_request');
  return signJwt(keys.current, {
    typ: INSTANCE_TOKEN_TYPE,
    claims: { iss: claims.issuer, sub: claims.instance, prj: claims.project },
    issuedAt: now,
    expiresAt: new Date(now.getTime() + claims.ttlSeconds * 1000),
    preciseIssuedAt: true,
  });
}

// Verifies an instance token: EdDSA only, by `kid` among the ring's keys, typ, issuer, the
// required claims, expiry against the injected clock, then the revocation store.
export async function verifyInstanceToken(
  token: string,
  keys: KeyRing,
  options: { issuer: string; now: Date; revocations: RevocationStore },
): Promise<InstanceIdentity> {
  const ring = { current: keys.current, all: keys.all.filter((k) => k.alg === 'EdDSA') };
  const { payload } = await verifySignedJwt(token, ring, {
    typ: INSTANCE_TOKEN_TYPE,
    issuer: options.issuer,
    now: options.now,
    requiredClaims: ['iss', 'sub', 'prj', 'iat', 'exp', 'jti'],
    what: 'instance token',
  });
  const { sub, prj, iat, exp, jti } = payload;
  if (
    typeof sub !== 'string' ||
    !sub ||
    typeof prj !== 'string' ||
    !prj ||
    typeof jti !== 'string' ||
    typeof iat !== 'number' ||
    typeof exp !== 'number'
  ) {
    throw new CodedError('token_invalid', 'instance token rejected: malformed claims');
  }
  const identity: InstanceIdentity = {
    instance: sub,
    project: prj,
    issuedAt: new Date(iat * 1000),
    expiresAt: new Date(exp * 1000),
  };
  if (await isRevoked(options.revocations, identity.instance, identity.issuedAt))
    throw new InstanceTokenRevoked(identity);
  return identity;
}

// A validly signed token of a revoked instance: who presented it is known, so the audit names it.
export class InstanceTokenRevoked extends CodedError {
  readonly identity: InstanceIdentity;
  constructor(identity: InstanceIdentity) {
    super('token_revoked', `instance token revoked (instance ${identity.instance}); ask the operator for a new one`);
    this.identity = identity;
  }
}
