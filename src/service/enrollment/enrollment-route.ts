import type { Route, ServiceDeps } from '../http/service-deps.ts';
import { CodedError, isCodedError } from '../../common/errors.ts';
import { readJsonObject } from '../http/read-json.ts';
import { sendJson } from '../http/http-io.ts';
import { mintInstanceToken } from '../token/instance-token.ts';
import type { EnrollmentConfig } from './enrollment-config.ts';
import type { EnrollmentLedger } from './enrollment-ledger.ts';
import { EnrollmentRefused } from './enrollment-refused.ts';
import { verifyAwsEvidence, type VerifiedIdentity } from './aws-evidence.ts';

export interface EnrollmentRouteOptions {
  config: EnrollmentConfig | undefined;
  ledger: EnrollmentLedger | undefined;
}

// POST /v1/enroll {"cloud": "aws", "document", "signature"}: a host with no token trades its
// cloud's signed identity for an ordinary instance token (same revocation, audit and project
// rules as one from issue-token). Every attempt is audited, granted or not.
export function createEnrollmentRoute(options: EnrollmentRouteOptions): Route {
  return async (req, res, deps) => {
    let identity: VerifiedIdentity | undefined;
    let cloud: string | undefined;
    try {
      if (!options.config || !options.ledger) throw new CodedError('not_found', 'enrollment by cloud identity is off on this service; set DSTACK_REGISTRY_AUTH_ENROLLMENT_CONFIG (docs/enrollment.md)');
      const body = await readJsonObject(req);
      cloud = typeof body.cloud === 'string' ? body.cloud.slice(0, 20) : undefined;
      identity = verify(body, options.config, deps.clock());
      const now = deps.clock();
      if (!options.ledger.claim({ cloud: identity.cloud, account: identity.account, instanceId: identity.instanceId }, now, identity.reenroll)) {
        throw new EnrollmentRefused('already_enrolled', `instance ${identity.instance} has enrolled before; its evidence is not taken twice (allow re-enrollment for it in the enrollment config, or issue-token)`, identity.instance);
      }
      const ttlSeconds = options.config.tokenTtlSeconds ?? deps.config.instanceTokenTtlSeconds;
      const { token, expiresAt } = await mintInstanceToken(deps.instanceKeys, { instance: identity.instance, project: identity.project, ttlSeconds, issuer: deps.config.issuerName }, now);
      deps.audit.record({ event: 'enrolled', outcome: 'granted', instance: identity.instance, project: identity.project, source: identity.cloud });
      sendJson(res, 201, { token, instance: identity.instance, project: identity.project, expires_at: expiresAt.toISOString() });
    } catch (error) {
      auditRefusal(deps, error, cloud, identity);
      throw error;
    }
  };
}

function verify(body: Record<string, unknown>, config: EnrollmentConfig, now: Date): VerifiedIdentity {
  switch (body.cloud) {
    case 'aws':
      if (!config.aws) throw new EnrollmentRefused('cloud_not_enabled', 'AWS enrollment is not configured on this service (aws in the enrollment config)');
      return verifyAwsEvidence({ document: body.document as string, signature: body.signature as string }, config.aws, now);
    default:
      throw new CodedError('bad_request', '"cloud" must be "aws"');
  }
}

function auditRefusal(deps: ServiceDeps, error: unknown, cloud: string | undefined, identity: VerifiedIdentity | undefined): void {
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
