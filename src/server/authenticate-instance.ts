import type { IncomingMessage } from 'node:http';
import type { InstanceIdentity } from './ports.ts';
import type { ServiceDeps } from './service-deps.ts';
import { CodedError } from '../shared/errors.ts';
import { verifyInstanceToken } from '../token/instance-token.ts';
import { bearerToken } from './http-io.ts';

// The instance behind a request, proven by its bearer token. The revocation store is read on
// every call, so a revocation takes effect on the next request, in every replica.
export async function authenticateInstance(req: IncomingMessage, deps: ServiceDeps): Promise<InstanceIdentity> {
  const token = bearerToken(req);
  if (token === undefined) throw new CodedError('token_missing', 'no instance token: send Authorization: Bearer <instance token>');
  return verifyInstanceToken(token, deps.instanceKeys, { issuer: deps.config.issuerName, now: deps.clock(), revocations: deps.revocations });
}

// Whether a registry is open to a project ('*' opens it to all).
export function projectMayUse(projects: string[], project: string): boolean {
  return projects.includes('*') || projects.includes(project);
}
