import type { Clock, CloudSourceKind, Metrics, RegistryEntry } from '../../core/ports.ts';
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
  return sources;
}
