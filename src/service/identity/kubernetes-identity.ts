import { decodeJwt, errors, jwtVerify } from 'jose';
import { CodedError } from '../../common/errors.ts';
import { printable } from '../../common/printable.ts';
import type { InstanceIdentity, RevocationStore } from '../core/ports.ts';
import { CLOCK_TOLERANCE_SECONDS } from '../token/jwt-verify.ts';
import { InstanceTokenRevoked } from '../token/instance-token.ts';
import { createClusterKeys, type ClusterKeys, type ClusterKeysOptions } from './cluster-keys.ts';
import type { KubernetesBinding, KubernetesCluster, KubernetesConfig } from './kubernetes-config.ts';
import { serviceAccountClaims, type ServiceAccountClaims } from './service-account-claims.ts';

// The API server signs with RS256 by default, ES256 when its key is an EC key; never `none` or HMAC.
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];

// A Kubernetes projected service-account token as a way in next to instance tokens
// (docs/kubernetes.md). It arrives in the same `Authorization: Bearer` header; its `iss` (read
// before verification, only to choose the verifier) tells it apart: one of the configured
// clusters' issuers. What passes is an InstanceIdentity like an instance token's, so the
// project rules, audit and metrics downstream are the same.
export interface KubernetesIdentity {
  // Whether this token claims to be a service-account token (unverified): its issuer is a
  // configured cluster's, or it carries the `kubernetes.io` claim (then an unknown cluster is
  // named as such, rather than failing as a malformed instance token).
  claims(token: string): boolean;
  authenticate(token: string, now: Date, revocations: RevocationStore): Promise<InstanceIdentity>;
}

export function createKubernetesIdentity(
  config: KubernetesConfig,
  options: ClusterKeysOptions = {},
): KubernetesIdentity {
  const clusters = new Map<string, { cluster: KubernetesCluster; keys: ClusterKeys }>(
    config.clusters.map((cluster) => [cluster.issuer, { cluster, keys: createClusterKeys(cluster, options) }]),
  );
  const unverified = (token: string): { iss?: unknown; 'kubernetes.io'?: unknown } => {
    try {
      return decodeJwt(token);
    } catch {
      return {};
    }
  };
  return {
    claims: (token) => {
      const payload = unverified(token);
      return (
        (typeof payload.iss === 'string' && clusters.has(payload.iss)) || typeof payload['kubernetes.io'] === 'object'
      );
    },
    async authenticate(token, now, revocations) {
      const { iss } = unverified(token);
      const found = typeof iss === 'string' ? clusters.get(iss) : undefined;
      if (!found)
        throw new CodedError(
          'token_invalid',
          `service-account token rejected: its issuer ${typeof iss === 'string' ? `"${printable(iss, 100)}" ` : ''}is no configured cluster; add the cluster to kubernetes.clusters in the service config`,
        );
      const { cluster, keys } = found;
      let payload;
      try {
        ({ payload } = await jwtVerify(token, keys.getKey, {
          algorithms: ALGORITHMS,
          issuer: cluster.issuer,
          audience: config.audience,
          currentDate: now,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
        }));
      } catch (error) {
        throw verificationError(error, config.audience);
      }
      if (typeof payload.iat === 'number' && payload.iat > now.getTime() / 1000 + CLOCK_TOLERANCE_SECONDS) {
        throw new CodedError(
          'token_invalid',
          'service-account token rejected: issued in the future; check the clocks of the cluster and the service',
        );
      }
      const account = serviceAccountClaims(payload);
      const binding = bindingFor(cluster.projects, account);
      if (!binding) {
        throw new CodedError(
          'forbidden',
          `service account ${account.namespace}/${account.name} of cluster ${cluster.issuer} is mapped to no dstack project; add it to kubernetes.clusters[].projects in the service config`,
        );
      }
      const identity: InstanceIdentity = {
        instance: kubernetesInstance(account),
        project: binding.project,
        issuedAt: new Date(payload.iat! * 1000),
        expiresAt: new Date(payload.exp! * 1000),
      };
      await checkRevocation(revocations, identity, account);
      return identity;
    },
  };
}

// The instance name of a service account in audit lines and revocations: namespace, name and
// the account's uid, so that revoking it cuts off that account and a recreated one (new uid)
// is a new identity.
export function kubernetesInstance(account: ServiceAccountClaims): string {
  return `k8s:${account.namespace}/${account.name}@${account.uid}`;
}

// The instance name that revokes one node's tokens (the `kubernetes.io.node` claim, 1.30+).
export function kubernetesNodeInstance(node: { uid: string }): string {
  return `k8s-node:${node.uid}`;
}

// The first binding naming the account itself, else the namespace's '*' binding.
function bindingFor(bindings: KubernetesBinding[], account: ServiceAccountClaims): KubernetesBinding | undefined {
  const ofNamespace = bindings.filter((b) => b.namespace === account.namespace);
  return (
    ofNamespace.find((b) => b.serviceAccount === account.name) ?? ofNamespace.find((b) => b.serviceAccount === '*')
  );
}

// The kubelet mints a fresh token every hour or so, so an instance token's rule ("tokens issued
// up to the revocation") would re-admit the account within the hour. A revoked service account
// (or node) stays revoked whatever the token's iat; deleting and recreating the account gives
// it a new uid, which is how it comes back.
async function checkRevocation(
  revocations: RevocationStore,
  identity: InstanceIdentity,
  account: ServiceAccountClaims,
): Promise<void> {
  if ((await revocations.revokedAt(identity.instance)) !== undefined)
    throw new KubernetesIdentityRevoked(identity, 'service account');
  if (account.node && (await revocations.revokedAt(kubernetesNodeInstance(account.node))) !== undefined)
    throw new KubernetesIdentityRevoked(identity, `node ${account.node.name}`);
}

class KubernetesIdentityRevoked extends InstanceTokenRevoked {
  constructor(identity: InstanceIdentity, what: string) {
    super(identity);
    this.message = `service-account token refused: the ${what} is revoked (${identity.instance}); recreate the service account (a new uid) to re-admit it`;
  }
}

function verificationError(error: unknown, audience: string): CodedError {
  if (error instanceof CodedError) return error;
  if (error instanceof errors.JWTExpired)
    return new CodedError(
      'token_expired',
      "service-account token expired; the kubelet refreshes a projected token, check the volume's expirationSeconds and that the token file is read fresh",
    );
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud')
      return new CodedError(
        'token_invalid',
        `service-account token rejected: its audience is not "${audience}"; set the projected token's audience (or the provider's serviceAccountTokenAudience) to it`,
      );
    if (error.claim === 'nbf')
      return new CodedError(
        'token_invalid',
        'service-account token rejected: not valid yet; check the clocks of the cluster and the service',
      );
    return new CodedError(
      'token_invalid',
      `service-account token rejected: ${error.reason === 'missing' ? 'missing' : 'unexpected'} "${error.claim}" claim`,
    );
  }
  if (error instanceof errors.JWKSNoMatchingKey)
    return new CodedError(
      'token_invalid',
      'service-account token rejected: signed by a key the cluster does not publish',
    );
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new CodedError('token_invalid', 'service-account token rejected: bad signature');
  if (error instanceof errors.JOSEAlgNotAllowed)
    return new CodedError('token_invalid', 'service-account token rejected: signing algorithm not allowed');
  return new CodedError('token_invalid', 'service-account token rejected: malformed token');
}
