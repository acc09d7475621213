import type { Route, ServiceDeps } from '../http/service-deps.ts';
import { CodedError, isCodedError } from '../../common/errors.ts';
import { readJsonObject } from '../http/read-json.ts';
import { sendJson } from '../http/http-io.ts';
import { mintInstanceToken } from '../token/instance-token.ts';
import type { EnrollmentConfig } from './enrollment-config.ts';
import type { EnrollmentLedger } from './enrollment-ledger.ts';
import { EnrollmentRefused } from './enrollment-refused.ts';
import { verifyAwsEvidence } from './aws-evidence.ts';
import { createGcpVerifier, gcpAudience } from './gcp-evidence.ts';
import { createAzureVerifier } from './azure-evidence.ts';
import type { VerifiedIdentity } from './verified-identity.ts';

export interface EnrollmentRoutes {
  enroll: Route;
  nonce: Route;
}

type Verifier = (body: Record<string, unknown>, now: Date) => Promise<VerifiedIdentity>;

const OFF =
  'enrollment by cloud identity is off on this service; set DSTACK_REGISTRY_AUTH_ENROLLMENT_CONFIG (docs/enrollment.md)';

// POST /v1/enroll {"cloud", …evidence}: a host with no token trades its cloud's signed identity
// for an ordinary instance token (same revocation, audit and project rules as one from
// issue-token). POST /v1/enroll/nonce {"cloud"}: a single-use nonce for the clouds whose
// evidence can carry one. Every enrollment attempt is audited, granted or not.
export function createEnrollmentRoutes(
  config: EnrollmentConfig | undefined,
  ledger: EnrollmentLedger | undefined,
  publicUrl: string,
): EnrollmentRoutes {
  const audiencePrefix = `${publicUrl.replace(/\/+$/, '')}/v1/enroll?nonce=`;
  const verifiers: Record<string, Verifier> = {};
  if (config?.aws) {
    const aws = config.aws;
    verifiers.aws = async (body, now) =>
      verifyAwsEvidence({ document: body.document as string, signature: body.signature as string }, aws, now);
  }
  if (config?.gcp && ledger) {
    const gcp = createGcpVerifier({ config: config.gcp, nonces: ledger.nonces, audiencePrefix });
    verifiers.gcp = (body, now) => gcp(body.token, now);
  }
  if (config?.azure && ledger) {
    const azure = createAzureVerifier({ config: config.azure, nonces: ledger.nonces });
    verifiers.azure = (body, now) => azure(body.signature, now);
  }
  // The clouds whose evidence carries a nonce of ours.
  const nonceClouds = ['gcp', 'azure'].filter((cloud) => verifiers[cloud]);

  const enroll: Route = async (req, res, deps) => {
    let identity: VerifiedIdentity | undefined;
    let cloud: string | undefined;
    try {
      if (!config || !ledger) throw new CodedError('not_found', OFF);
      const body = await readJsonObject(req);
      cloud = typeof body.cloud === 'string' ? body.cloud.slice(0, 20) : undefined;
      identity = await verifierFor(verifiers, body.cloud)(body, deps.clock());
      const now = deps.clock();
      // The token is minted before the enrollment is recorded: a mint that fails leaves the
      // instance free to try again. (A reply lost after the record cannot be told from a replay;
      // the operator allows re-enrollment for that instance: docs/enrollment.md.)
      const ttlSeconds = config.tokenTtlSeconds ?? deps.config.instanceTokenTtlSeconds;
      const { token, expiresAt } = await mintInstanceToken(
        deps.instanceKeys,
        { instance: identity.instance, project: identity.project, ttlSeconds, issuer: deps.config.issuerName },
        now,
      );
      if (
        !ledger.claim(
          { cloud: identity.cloud, account: identity.account, instanceId: identity.instanceId },
          now,
          identity.reenroll,
        )
      ) {
        throw new EnrollmentRefused(
          'already_enrolled',
          `instance ${identity.instance} has enrolled before; its evidence is not taken twice (allow re-enrollment for it in the enrollment config, or issue-token)`,
          identity.instance,
        );
      }
      deps.audit.record({
        event: 'enrolled',
        outcome: 'granted',
        instance: identity.instance,
        project: identity.project,
        source: identity.cloud,
      });
      sendJson(res, 201, {
        token,
        instance: identity.instance,
        project: identity.project,
        expires_at: expiresAt.toISOString(),
      });
    } catch (error) {
      auditRefusal(deps, error, cloud, identity);
      throw error;
    }
  };

  const nonce: Route = async (req, res, deps) => {
    if (!config || !ledger) throw new CodedError('not_found', OFF);
    const body = await readJsonObject(req);
    const cloud = body.cloud;
    if (typeof cloud !== 'string' || !nonceClouds.includes(cloud))
      throw new CodedError(
        'bad_request',
        `"cloud" must be a cloud this service enrolls with a nonce: ${nonceClouds.join(', ') || 'none is configured'}`,
      );
    // The peer's address (behind a reverse proxy: the proxy's; docs/enrollment.md).
    const issued = ledger.nonces.issue(cloud, deps.clock(), config.nonceTtlSeconds, req.socket.remoteAddress ?? '');
    sendJson(res, 201, {
      nonce: issued.nonce,
      ...(cloud === 'gcp' ? { audience: gcpAudience(audiencePrefix, issued.nonce) } : {}),
      expires_at: issued.expiresAt.toISOString(),
    });
  };

  return { enroll, nonce };
}

function verifierFor(verifiers: Record<string, Verifier>, cloud: unknown): Verifier {
  const verifier = typeof cloud === 'string' && Object.hasOwn(verifiers, cloud) ? verifiers[cloud] : undefined;
  if (verifier) return verifier;
  if (cloud === 'aws' || cloud === 'gcp' || cloud === 'azure')
    throw new EnrollmentRefused(
      'cloud_not_enabled',
      `${cloud} enrollment is not configured on this service (${cloud} in the enrollment config)`,
    );
  throw new CodedError(
    'bad_request',
    `"cloud" must be one of: ${Object.keys(verifiers).join(', ') || 'none is configured'}`,
  );
}

function auditRefusal(
  deps: ServiceDeps,
  error: unknown,
  cloud: string | undefined,
  identity: VerifiedIdentity | undefined,
): void {
  if (isCodedError(error, 'not_found')) return; // enrollment off: nothing was attempted
  const reason = error instanceof EnrollmentRefused ? error.reason : isCodedError(error) ? error.code : 'internal';
  const instance = error instanceof EnrollmentRefused ? error.instance : identity?.instance;
  deps.audit.record({
    event: 'enrolled',
    outcome: reason === 'internal' || reason === 'unavailable' ? 'error' : 'denied',
    reason,
    ...(instance ? { instance } : {}),
    ...(identity ? { project: identity.project } : {}),
    ...(cloud ? { source: cloud } : {}),
  });
}
