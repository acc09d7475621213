import type { IncomingMessage } from 'node:http';
import type { InstanceIdentity } from '../core/ports.ts';
import type { ServiceDeps } from './service-deps.ts';
import { CodedError } from '../../common/errors.ts';
import { InstanceTokenRevoked, verifyInstanceToken } from '../token/instance-token.ts';
import { isRevoked } from '../store/is-revoked.ts';
import { bearerToken } from './http-io.ts';

// The instance behind a request, proven by its bearer token. The revocation store is read on
// every call (also for a token whose signature was verified before), so a revocation takes
// effect on the next request, in every replica.
export async function authenticateInstance(req: IncomingMessage, deps: ServiceDeps): Promise<InstanceIdentity> {
  const token = bearerToken(req);
  if (token === undefined)
    throw new CodedError('token_missing', 'no instance token: send Authorization: Bearer <instance token>');
  const now = deps.clock();
  // A Kubernetes service-account token, told apart by its issuer (docs/contract.md).
  if (deps.kubernetes?.claims(token)) return deps.kubernetes.authenticate(token, now, deps.revocations);
  const known = deps.verifiedTokens.get(token, now);
  if (known) {
    if (await isRevoked(deps.revocations, known.instance, known.issuedAt)) throw new InstanceTokenRevoked(known);
    return known;
  }
  const identity = await verifyInstanceToken(token, deps.instanceKeys, {
    issuer: deps.config.issuerName,
    now,
    revocations: deps.revocations,
  });
  deps.verifiedTokens.set(token, identity);
  return identity;
}
