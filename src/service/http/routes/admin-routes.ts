import type { Route } from '../service-deps.ts';
import { CodedError, isCodedError } from '../../../common/errors.ts';
import { parseDuration } from '../../../common/duration.ts';
import { checkInstanceTokenTtl, mintInstanceToken } from '../../token/instance-token.ts';
import { requireAdmin } from '../admin-auth.ts';
import { readJsonObject } from '../read-json.ts';
import { sendJson } from '../http-io.ts';
import { checkName, DEFAULT_PROJECT } from '../../core/instance-names.ts';

// POST /v1/admin/tokens: a dstack server mints an instance token remotely.
export const adminTokensRoute: Route = async (req, res, deps) => {
  let instance: string | undefined;
  let project: string | undefined;
  try {
    requireAdmin(req, deps.config.adminToken);
    const body = await readJsonObject(req);
    instance = checkName(body.instance, 'instance', 'bad_request');
    project = body.project === undefined ? DEFAULT_PROJECT : checkName(body.project, 'project', 'bad_request');
    const ttlSeconds = requestedTtl(body.ttl, deps.config.instanceTokenTtlSeconds);
    const { token, expiresAt } = await mintInstanceToken(
      deps.instanceKeys,
      { instance, project, ttlSeconds, issuer: deps.config.issuerName },
      deps.clock(),
    );
    deps.audit.record({ event: 'token_issued', outcome: 'granted', instance, project });
    sendJson(res, 201, { token, instance, project, expires_at: expiresAt.toISOString() });
  } catch (error) {
    auditFailure(deps, 'token_issued', error, instance, project);
    throw error;
  }
};

// POST /v1/admin/revocations: every token of the instance issued until now stops working.
export const adminRevocationsRoute: Route = async (req, res, deps) => {
  let instance: string | undefined;
  try {
    requireAdmin(req, deps.config.adminToken);
    const body = await readJsonObject(req);
    instance = checkName(body.instance, 'instance', 'bad_request');
    const revokedAt = deps.clock();
    await deps.revocations.revoke(instance, revokedAt);
    deps.audit.record({ event: 'revoked', outcome: 'granted', instance });
    sendJson(res, 200, { instance, revoked_at: revokedAt.toISOString() });
  } catch (error) {
    auditFailure(deps, 'revoked', error, instance);
    throw error;
  }
};

function requestedTtl(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0)
    return checkInstanceTokenTtl(value, '"ttl"', 'bad_request');
  if (typeof value !== 'string')
    throw new CodedError('bad_request', '"ttl" must be a duration such as "30d" or a number of seconds');
  let seconds: number;
  try {
    seconds = parseDuration(value, '"ttl"');
  } catch (error) {
    throw new CodedError('bad_request', (error as Error).message);
  }
  return checkInstanceTokenTtl(seconds, '"ttl"', 'bad_request');
}

function auditFailure(
  deps: Parameters<Route>[2],
  event: 'token_issued' | 'revoked',
  error: unknown,
  instance?: string,
  project?: string,
): void {
  const reason = isCodedError(error) ? error.code : 'internal';
  if (reason === 'not_found') return; // admin API off: nothing was attempted
  deps.audit.record({
    event,
    outcome: reason === 'internal' ? 'error' : 'denied',
    reason,
    ...(instance ? { instance } : {}),
    ...(project ? { project } : {}),
  });
}
