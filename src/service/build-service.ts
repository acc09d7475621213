import type { Writable } from 'node:stream';
import type { Clock, CredentialSource, KeyRing, Metrics, RevocationStore } from './core/ports.ts';
import type { ServiceConfig } from './config/service-config.ts';
import type { ServiceDeps } from './http/service-deps.ts';
import { createVerifiedTokenCache } from './token/verified-token-cache.ts';
import { createRouter, type Endpoint, type RequestHandler } from './http/router.ts';
import { credentialsRoute } from './http/routes/credentials-route.ts';
import { hostConfigRoute } from './http/routes/host-config-route.ts';
import { adminRevocationsRoute, adminTokensRoute } from './http/routes/admin-routes.ts';
import { healthRoute, metricsRoute } from './http/routes/operations-routes.ts';
import { createAuditLog } from './observability/audit-log.ts';
import { createMetrics } from './observability/metrics.ts';
import { createStaticSource } from './sources/static-source.ts';
import { createIssuerSource } from './sources/issuer-source.ts';
import { createBrokerSource } from './sources/broker/broker-source.ts';
import { createCloudSources } from './sources/cloud/cloud-sources.ts';
import { createRealmHandler } from './realm/realm-handler.ts';
import { loadKeyRing } from './token/key-ring.ts';
import { loadRegistrySigningKeys } from './token/registry-signing-keys.ts';
import { openRevocationStore } from './store/open-revocation-store.ts';
import { ensureDataDir } from './config/data-dir.ts';
import { createKubernetesIdentity } from './identity/kubernetes-identity.ts';
import { openEnrollment } from './enrollment/open-enrollment.ts';

export interface BuildServiceOptions {
  // Passed to key loading (DSTACK_REGISTRY_AUTH_<NAME>_KEY_FILE and friends).
  env?: Record<string, string | undefined>;
  clock?: Clock;
  // Where audit lines go when config.auditLogPath is not set.
  auditStream?: Writable;
  // One-line operational messages (internal errors); never a secret.
  log?: (line: string) => void;
}

// A wired service, not yet listening: the request handler plus what tests and the serve
// command need to reach (metrics, keys, store) and a close for the stores.
export interface Service {
  handler: RequestHandler;
  instanceKeys: KeyRing;
  revocations: RevocationStore;
  metrics: Metrics;
  close(): Promise<void>;
}

// Loads keys (generated into the data directory on first start), opens the revocation store,
// and mounts every endpoint of docs/contract.md.
export async function buildService(config: ServiceConfig, options: BuildServiceOptions = {}): Promise<Service> {
  const env = options.env ?? {};
  const clock = options.clock ?? (() => new Date());
  const log = options.log ?? (() => {});
  await ensureDataDir(config.dataDir);
  const [instanceKeys, ticketKeys, registryKeys] = await Promise.all([
    loadKeyRing({ dataDir: config.dataDir, name: 'instance', alg: 'EdDSA', env }),
    loadKeyRing({ dataDir: config.dataDir, name: 'ticket', alg: 'EdDSA', env }),
    loadRegistrySigningKeys({ dataDir: config.dataDir, env, issuerName: config.issuerName }),
  ]);
  const revocations = await openRevocationStore({
    dataDir: config.dataDir,
    ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
    embedded: { foreignFile: 'adopt', notice: (line) => log(`warning: ${line}`) },
  });
  let audit: ReturnType<typeof createAuditLog>;
  try {
    audit = createAuditLog({
      ...(config.auditLogPath ? { path: config.auditLogPath } : { stream: options.auditStream }),
      clock,
    });
  } catch (error) {
    await revocations.close();
    throw error;
  }
  const metrics = createMetrics();
  let enrollment: Awaited<ReturnType<typeof openEnrollment>>;
  try {
    enrollment = await openEnrollment(env, config);
  } catch (error) {
    audit.close();
    await revocations.close();
    throw error;
  }
  const broker = createBrokerSource({ registries: config.registries, clock, metrics, log });
  try {
    // Before listening: a brokered registry that answers Basic stops start-up (exit 2).
    await broker.discover();
  } catch (error) {
    audit.close();
    enrollment.close();
    await revocations.close();
    throw error;
  }
  const sources: Record<string, CredentialSource> = {
    static: createStaticSource(),
    issuer: createIssuerSource({ ticketKeys, issuerName: config.issuerName }),
    broker,
    ...createCloudSources({ registries: config.registries, env, clock, metrics, log }),
  };
  const deps: ServiceDeps = {
    config,
    instanceKeys,
    verifiedTokens: createVerifiedTokenCache(),
    revocations,
    sources,
    audit,
    metrics,
    clock,
    log,
  };
  if (config.kubernetes) deps.kubernetes = createKubernetesIdentity(config.kubernetes);
  // The token realm handles its own errors, audit lines and metrics; the router only measures it.
  const realm = createRealmHandler({
    registries: config.registries,
    ticketKeys,
    registryKeys,
    revocations,
    audit,
    metrics,
    clock,
    issuerName: config.issuerName,
    log,
  });
  const endpoints: Record<string, Endpoint> = {
    '/v1/credentials': { name: 'credentials', methods: { POST: credentialsRoute } },
    '/v1/host-config': { name: 'host_config', methods: { GET: hostConfigRoute } },
    '/v1/token': { name: 'token', methods: { GET: realm, POST: realm } },
    '/v1/admin/tokens': { name: 'admin_tokens', methods: { POST: adminTokensRoute } },
    '/v1/admin/revocations': { name: 'admin_revocations', methods: { POST: adminRevocationsRoute } },
    '/v1/enroll': { name: 'enroll', methods: { POST: enrollment.enroll } },
    '/v1/enroll/nonce': { name: 'enroll_nonce', methods: { POST: enrollment.nonce } },
    '/healthz': { name: 'healthz', methods: { GET: healthRoute } },
    '/metrics': { name: 'metrics', methods: { GET: metricsRoute } },
  };
  return {
    handler: createRouter(endpoints, deps),
    instanceKeys,
    revocations,
    metrics,
    close: async () => {
      audit.close();
      enrollment.close();
      await revocations.close();
    },
  };
}
