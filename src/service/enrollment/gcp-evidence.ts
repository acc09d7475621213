import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import type { GcpEnrollment } from './enrollment-config.ts';
import { CodedError } from '../../common/errors.ts';
import { EnrollmentRefused } from './enrollment-refused.ts';
import type { NonceStore } from './nonce-store.ts';
import type { VerifiedIdentity } from './verified-identity.ts';

// The issuers Google's compute identity tokens carry (both spellings are in use).
const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];
const MAX_TOKEN_CHARS = 8 * 1024;
const CLOCK_TOLERANCE_SECONDS = 30;

export interface GcpVerifierOptions {
  config: GcpEnrollment;
  nonces: NonceStore;
  // The audience prefix the service hands out: `<public URL>/v1/enroll?nonce=`.
  audiencePrefix: string;
}

// The audience a host asks its metadata server for: it carries a nonce only this service issued.
export function gcpAudience(audiencePrefix: string, nonce: string): string {
  return `${audiencePrefix}${nonce}`;
}

// Verifies a GCP instance identity token (format=full) the way Vault's gcp auth and SPIRE's
// gcp_iit do: RS256 only, by Google's keys (or an additional anchor), `iss` pinned, `aud` exactly
// an audience this service issued with a nonce still unused (then used up), the project allowed,
// the zone too if the rule names zones, and the instance by its id (names are reused, ids not).
export function createGcpVerifier(
  options: GcpVerifierOptions,
): (token: unknown, now: Date) => Promise<VerifiedIdentity> {
  const local = options.config.additionalTrustAnchors
    ? createLocalJWKSet(options.config.additionalTrustAnchors as JSONWebKeySet)
    : undefined;
  const remote = createRemoteJWKSet(new URL(options.config.certificatesUrl), {
    timeoutDuration: 5000,
    cooldownDuration: 30_000,
    cacheMaxAge: 3_600_000,
  });
  // An additional anchor's key by kid first; anything else is Google's to answer.
  const keys: JWTVerifyGetKey = async (header, token) => {
    if (local) {
      try {
        return await local(header, token);
      } catch (error) {
        if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      }
    }
    return remote(header, token);
  };
  return async (token, now) => {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS)
      throw new EnrollmentRefused(
        'evidence_malformed',
        'GCP evidence needs "token": the instance identity token (format=full), under 8 KiB',
      );
    let payload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: ['RS256'],
        currentDate: now,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['iss', 'aud', 'exp', 'iat'],
      }));
    } catch (error) {
      throw refusalFor(error);
    }
    if (typeof payload.iss !== 'string' || !GOOGLE_ISSUERS.includes(payload.iss))
      throw new EnrollmentRefused(
        'issuer_invalid',
        `the identity token's issuer "${String(payload.iss).slice(0, 60)}" is not Google`,
      );
    const aud = payload.aud;
    if (typeof aud !== 'string' || !aud.startsWith(options.audiencePrefix)) {
      throw new EnrollmentRefused(
        'audience_mismatch',
        'the identity token is for another audience; ask the metadata server for the audience this service issued (POST /v1/enroll/nonce)',
      );
    }
    const compute = (payload.google as { compute_engine?: Record<string, unknown> } | undefined)?.compute_engine;
    const projectId = compute?.project_id;
    const instanceId = compute?.instance_id;
    const zone = compute?.zone;
    if (
      typeof projectId !== 'string' ||
      typeof instanceId !== 'string' ||
      !/^\d{1,20}$/.test(instanceId) ||
      typeof zone !== 'string'
    ) {
      throw new EnrollmentRefused(
        'evidence_malformed',
        'the identity token has no google.compute_engine project_id, instance_id and zone; request it with format=full',
      );
    }
    const instance = `gcp:${projectId}:${instanceId}`;
    const rule = options.config.projects.find((p) => p.projectId === projectId);
    if (!rule)
      throw new EnrollmentRefused(
        'account_not_allowed',
        `GCP project ${projectId} is not allowed; add it to gcp.projects in the enrollment config`,
        instance,
      );
    if (rule.zones.length > 0 && !rule.zones.includes(zone))
      throw new EnrollmentRefused(
        'region_not_allowed',
        `zone ${zone} is not allowed for GCP project ${projectId}`,
        instance,
      );
    // Last, so a refused token leaves the nonce to expire rather than to be burnt by a forger.
    if (!options.nonces.consume('gcp', aud.slice(options.audiencePrefix.length), now)) {
      throw new EnrollmentRefused(
        'nonce_invalid',
        'the nonce in the audience is stale: used already, expired, or not issued by this service; start the enrollment again',
        instance,
      );
    }
    return {
      cloud: 'gcp',
      account: projectId,
      instanceId,
      project: rule.project,
      instance,
      reenroll: rule.reenroll.includes(instanceId),
    };
  };
}

function refusalFor(error: unknown): CodedError {
  if (error instanceof errors.JWTExpired)
    return new EnrollmentRefused('evidence_stale', 'the identity token has expired; fetch a fresh one');
  if (error instanceof errors.JOSEAlgNotAllowed)
    return new EnrollmentRefused('signature_invalid', 'the identity token is not signed with RS256');
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWSSignatureVerificationFailed)
    return new EnrollmentRefused('signature_invalid', 'the identity token is not signed by Google');
  // Google's keys out of reach is no verdict on the token: 503, and the host tries again.
  if (
    error instanceof errors.JWKSTimeout ||
    error instanceof errors.JWKSInvalid ||
    !(error instanceof errors.JOSEError)
  ) {
    return new CodedError(
      'unavailable',
      `Google's signing keys could not be fetched (${error instanceof Error ? error.message.slice(0, 80) : 'error'}); retry later`,
    );
  }
  if (error instanceof errors.JWTClaimValidationFailed)
    return new EnrollmentRefused('evidence_malformed', `the identity token's "${error.claim}" claim is invalid`);
  return new EnrollmentRefused('evidence_malformed', 'the identity token is not a readable JWT');
}
