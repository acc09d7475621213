import type { JWTPayload } from 'jose';
import { CodedError } from '../../common/errors.ts';

// What a projected service-account token says about its holder (the `kubernetes.io` claim the
// API server writes since 1.21; `node` since 1.30 where the pod is bound to one).
export interface ServiceAccountClaims {
  namespace: string;
  name: string;
  uid: string;
  pod?: { name: string; uid: string };
  node?: { name: string; uid: string };
}

// Reads and cross-checks the claims: `sub` must be system:serviceaccount:<namespace>:<name>, as
// the API server writes it. A legacy Secret-based token (no `kubernetes.io` claim, no `exp`)
// never gets here: verification requires `exp`, and this refuses the rest.
export function serviceAccountClaims(payload: JWTPayload): ServiceAccountClaims {
  const k8s = payload['kubernetes.io'] as Record<string, unknown> | undefined;
  if (typeof k8s !== 'object' || k8s === null)
    throw invalid(
      'no "kubernetes.io" claim (a legacy or non-Kubernetes token); mount a projected service-account token',
    );
  const namespace = k8s.namespace;
  const account = ref(k8s.serviceaccount);
  if (typeof namespace !== 'string' || !namespace || !account)
    throw invalid('"kubernetes.io" claim lacks the namespace or the service account');
  if (payload.sub !== `system:serviceaccount:${namespace}:${account.name}`)
    throw invalid('"sub" does not name the service account of the "kubernetes.io" claim');
  const pod = ref(k8s.pod);
  const node = ref(k8s.node);
  return { namespace, name: account.name, uid: account.uid, ...(pod ? { pod } : {}), ...(node ? { node } : {}) };
}

function ref(value: unknown): { name: string; uid: string } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { name, uid } = value as Record<string, unknown>;
  return typeof name === 'string' && name && typeof uid === 'string' && uid ? { name, uid } : undefined;
}

function invalid(why: string): CodedError {
  return new CodedError('token_invalid', `service-account token rejected: ${why}`);
}
