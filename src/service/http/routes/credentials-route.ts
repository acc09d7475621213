import type { InstanceIdentity, IssuedCredential, RegistryEntry } from '../../core/ports.ts';
import type { Route } from '../service-deps.ts';
import type { CredentialAnswer } from '../../../contract/credential-answer.ts';
import { CodedError, isCodedError } from '../../../common/errors.ts';
import { normalizeRegistryKey } from '../../../registry/registry-key.ts';
import { repositoryProblem } from '../../../registry/distribution-grammar.ts';
import { authenticateInstance } from '../authenticate-instance.ts';
import { InstanceTokenRevoked } from '../../token/instance-token.ts';
import { projectMayUse } from '../../core/project-access.ts';
import { BODY_LIMIT_BYTES, parseJsonObject } from '../read-json.ts';
import { readBody, sendJson } from '../http-io.ts';

// POST /v1/credentials: the one response that carries a registry secret. Order of checks:
// body size, instance token, request shape, registry known, project allowed, then the source.
// Every outcome is audited and counted; the secret never is.
export const credentialsRoute: Route = async (req, res, deps) => {
  let identity: InstanceIdentity | undefined;
  let requestedKey: string | undefined;
  let repository: string | undefined;
  let entry: RegistryEntry | undefined;
  try {
    const raw = await readBody(req, BODY_LIMIT_BYTES);
    identity = await authenticateInstance(req, deps);
    const body = parseJsonObject(raw);
    requestedKey = requestedRegistry(body.registry);
    repository = requestedRepository(body.repository);
    entry = deps.config.registries.find(
      (candidate) => candidate.key === requestedKey || candidate.aliases.includes(requestedKey!),
    );
    if (!entry) throw new CodedError('not_found', `no credential for registry ${requestedKey}; pull anonymously`);
    if (!projectMayUse(entry.projects, identity.project))
      throw new CodedError('forbidden', `registry ${requestedKey} is not available to project ${identity.project}`);
    const source = deps.sources[entry.source];
    if (!source) throw new Error(`no credential source ${entry.source} is wired`);
    const now = deps.clock();
    const credential = await source.issue({
      identity,
      requestedKey,
      registry: entry,
      now,
      ...(repository !== undefined ? { repository } : {}),
    });
    deps.audit.record({
      event: 'credential',
      outcome: 'granted',
      ...who(identity),
      registry: requestedKey,
      ...(repository !== undefined ? { repository } : {}),
      source: entry.source,
    });
    deps.metrics.increment('dstack_registry_auth_issuances_total', { source: entry.source, registry: entry.key });
    // Date from the clock expires_at was computed on, read as the answer leaves: the host counts
    // the credential's life as expires_at − Date, so a host clock a day off neither stretches
    // nor voids it (src/host/credentials/credential-lifetime.ts).
    sendJson(res, 200, answer(credential, requestedKey, entry.source), { date: deps.clock().toUTCString() });
  } catch (error) {
    const reason = isCodedError(error) ? error.code : 'internal';
    if (error instanceof InstanceTokenRevoked) identity = error.identity;
    deps.audit.record({
      event: 'credential',
      outcome: reason === 'internal' || reason === 'unavailable' ? 'error' : 'denied',
      ...(identity ? who(identity) : {}),
      ...(requestedKey !== undefined ? { registry: requestedKey } : {}),
      ...(repository !== undefined ? { repository } : {}),
      ...(entry ? { source: entry.source } : {}),
      reason,
    });
    throw error;
  }
};

function requestedRegistry(value: unknown): string {
  if (typeof value !== 'string')
    throw new CodedError('bad_request', 'missing "registry": send {"registry": "<registry key>"}');
  try {
    return normalizeRegistryKey(value);
  } catch (error) {
    throw new CodedError('bad_request', (error as Error).message);
  }
}

// `repository` is optional (a `get` cannot send one); when present it must be a repository name.
function requestedRepository(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string')
    throw new CodedError('bad_request', '"repository" must be a string such as "library/python"');
  const problem = repositoryProblem(value);
  if (problem !== undefined)
    throw new CodedError('bad_request', `invalid repository name "${value.slice(0, 80)}": ${problem}`);
  return value;
}

// The 200 body in the contract's shape (src/contract/credential-answer.ts).
function answer(credential: IssuedCredential, registry: string, source: string): CredentialAnswer {
  const expires_at = credential.expiresAt.toISOString();
  if (credential.kind === 'bearer')
    return {
      kind: 'bearer',
      registry,
      repository: credential.repository,
      token: credential.token.reveal(),
      expires_at,
      source,
    };
  return {
    kind: 'basic',
    registry,
    username: credential.username,
    secret: credential.secret.reveal(),
    expires_at,
    source,
  };
}

function who(identity: InstanceIdentity): { instance: string; project: string } {
  return { instance: identity.instance, project: identity.project };
}
