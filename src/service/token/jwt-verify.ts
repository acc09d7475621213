import { errors, jwtVerify, type JWTPayload, type JWTHeaderParameters } from 'jose';
import { CodedError } from '../../common/errors.ts';
import type { KeyRing } from '../core/ports.ts';
import { keyResolver, ringAlgorithms } from './jwt-key-resolver.ts';

// Clocks of replicas and of the host that minted a token drift a little; 30 s forgives that
// without stretching a days-long instance token's life noticeably.
export const CLOCK_TOLERANCE_SECONDS = 30;

export interface VerifyJwtOptions {
  typ: string;
  now: Date;
  issuer?: string;
  audience?: string;
  requiredClaims: string[];
  // What the token is, for messages: 'instance token', 'pull ticket'.
  what: string;
  // Defaults to CLOCK_TOLERANCE_SECONDS.
  clockToleranceSeconds?: number;
}

// Verifies signature (only the ring's algorithms and keys, chosen by `kid`), `typ`, issuer,
// audience, required claims, `exp` and a not-in-the-future `iat` against an injected clock.
// Failures are CodedError token_expired or token_invalid with a one-line reason; the token
// text never appears in a message.
export async function verifySignedJwt(
  token: string,
  ring: KeyRing,
  options: VerifyJwtOptions,
): Promise<{ payload: JWTPayload; header: JWTHeaderParameters }> {
  const tolerance = options.clockToleranceSeconds ?? CLOCK_TOLERANCE_SECONDS;
  try {
    const { payload, protectedHeader } = await jwtVerify(token, keyResolver(ring), {
      algorithms: ringAlgorithms(ring),
      typ: options.typ,
      currentDate: options.now,
      clockTolerance: tolerance,
      requiredClaims: options.requiredClaims,
      ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
      ...(options.audience !== undefined ? { audience: options.audience } : {}),
    });
    if (typeof payload.iat === 'number' && payload.iat > options.now.getTime() / 1000 + tolerance) {
      throw new CodedError(
        'token_invalid',
        `${options.what} rejected: issued in the future; check the clocks of the service replicas`,
      );
    }
    return { payload, header: protectedHeader };
  } catch (error) {
    if (error instanceof CodedError) throw error;
    if (error instanceof errors.JWTExpired)
      throw new CodedError('token_expired', `${options.what} expired; get a new one`);
    throw new CodedError('token_invalid', `${options.what} rejected: ${reasonOf(error)}`);
  }
}

function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'typ') return 'wrong token type';
    return error.reason === 'missing' ? `missing "${error.claim}" claim` : `unexpected "${error.claim}" claim`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'signing algorithm not allowed';
  if (error instanceof errors.JWKSNoMatchingKey) return 'signed by an unknown key';
  if (error instanceof errors.JOSENotSupported) return 'unsupported signing algorithm';
  return 'malformed token';
}
