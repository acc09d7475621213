import type { AuditLog, Clock, CredentialSource, KeyRing, Metrics, RevocationStore } from '../core/ports.ts';
import type { ServiceConfig } from '../config/service-config.ts';
import type { VerifiedTokenCache } from '../token/verified-token-cache.ts';
import type { KubernetesIdentity } from '../identity/kubernetes-identity.ts';

// What the routes share: built once by build-service, read-only per request.
export interface ServiceDeps {
  config: ServiceConfig;
  instanceKeys: KeyRing;
  verifiedTokens: VerifiedTokenCache;
  revocations: RevocationStore;
  // Set when the config names Kubernetes clusters (docs/kubernetes.md).
  kubernetes?: KubernetesIdentity;
  sources: Record<string, CredentialSource>;
  audit: AuditLog;
  metrics: Metrics;
  clock: Clock;
  log: (line: string) => void;
}

// Routes take the request, response and dependencies; they throw CodedError for every refusal.
export type Route = (
  req: import('node:http').IncomingMessage,
  res: import('node:http').ServerResponse,
  deps: ServiceDeps,
) => Promise<void>;
