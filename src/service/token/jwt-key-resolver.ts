import type { KeyObject } from 'node:crypto';
import { errors, type JWSHeaderParameters } from 'jose';
import type { KeyRing } from '../core/ports.ts';

// For jose's jwtVerify(token, keyResolver(ring), …): picks the verification key by the
// token's `kid` header among every key of the ring (current and previous), and refuses a
// token whose `alg` is not the one that key was made for (no RS/ES/HS swaps).
export function keyResolver(ring: KeyRing): (header: JWSHeaderParameters) => KeyObject {
  return (header) => {
    const key = typeof header.kid === 'string' ? ring.all.find((k) => k.kid === header.kid) : undefined;
    if (!key) throw new errors.JWKSNoMatchingKey('no key with that kid');
    if (header.alg !== key.alg) throw new errors.JOSEAlgNotAllowed('alg does not match the key');
    return key.publicKey;
  };
}

// The algorithms a ring can verify: the allow-list to pass as jwtVerify's `algorithms`.
export function ringAlgorithms(ring: KeyRing): string[] {
  return [...new Set(ring.all.map((k) => k.alg))];
}
