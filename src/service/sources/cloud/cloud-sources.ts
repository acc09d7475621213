import type { Clock, CloudSourceKind, CredentialRequest, Metrics, RegistryEntry } from '../../core/ports.ts';
import { createBrokerSource } from '../broker/broker-source.ts';
import { createMintingSource, type CloudSource, type Minter } from './minting-source.ts';

// The vendors' SDKs are large and slow to load: each is imported only when a registry with its
// source is configured, and then at the first credential, never by the other sources (and the
// host binary never reaches this file at all).
// `env`: the service's environment, for the choices made here; the SDKs read their own
// variables (keys, endpoints) from the process as their documentation says.
const MINTERS: Record<CloudSourceKind, (env: Record<string, string | undefined>) => Promise<Minter>> = {
  ecr: async () => (await import('./ecr-minter.ts')).createEcrMinter(),
  gar: async () => (await import('./gar-minter.ts')).createGarMinter(),
  acr: async (env) => (await import('./acr-minter.ts')).createAcrMinter(env),
};

export function createCloudSources(deps: {
  registries: RegistryEntry[];
  env: Record<string, string | undefined>;
  clock: Clock;
  metrics: Metrics;
  log: (line: string) => void;
}): Partial<Record<CloudSourceKind, CloudSource>> {
  const sources: Partial<Record<CloudSourceKind, CloudSource>> = {};
  for (const kind of Object.keys(MINTERS) as CloudSourceKind[]) {
    if (!deps.registries.some((entry) => entry.source === kind)) continue;
    sources[kind] = createMintingSource({
      kind,
      loadMinter: () => MINTERS[kind](deps.env),
      clock: deps.clock,
      metrics: deps.metrics,
      log: deps.log,
    });
  }
  if (sources.acr) sources.acr = withRepositoryTokens(sources.acr, deps);
  return sources;
}

// ACR with `tokens: repository`: the minted refresh token stays on the service, which trades it
// at the registry's own realm (its /v2/ challenge: /oauth2/token) for a pull token of the one
// repository a host asks for, exactly as the broker trades a password (broker-source.ts). The
// other ACR registries keep answering with the refresh token.
function withRepositoryTokens(
  acr: CloudSource,
  deps: { registries: RegistryEntry[]; clock: Clock; metrics: Metrics; log: (line: string) => void },
): CloudSource {
  const scoped = deps.registries.filter((entry) => entry.source === 'acr' && entry.acr?.tokens === 'repository');
  if (scoped.length === 0) return acr;
  const repositories = createBrokerSource({
    kind: 'acr',
    registries: scoped,
    clock: deps.clock,
    metrics: deps.metrics,
    log: deps.log,
    accountOf: async (request: CredentialRequest) => {
      const { repository: _one, ...forRegistry } = request;
      const minted = await acr.issue(forRegistry);
      if (minted.kind !== 'basic') throw new Error(`registry ${request.registry.key}: acr minted no refresh token`);
      return { username: minted.username, password: minted.secret, expiresAt: minted.expiresAt };
    },
  });
  return {
    ...acr,
    issue: (request) =>
      request.registry.acr?.tokens === 'repository' ? repositories.issue(request) : acr.issue(request),
  };
}
