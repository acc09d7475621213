import { oneLine } from '../../../common/errors.ts';
import { cacheKeyOf } from '../../cache/cache-entry.ts';
import type { CredentialCache } from '../../cache/credential-cache.ts';
import type { ServiceClient } from '../../client/service-client.ts';
import type { Diagnostics } from '../../credentials/diagnostics.ts';
import type { HostCredential } from '../../credentials/host-credential.ts';
import { resolveCredential } from '../../credentials/resolve-credential.ts';
import type { HelperSettings } from '../../settings/settings.ts';

// The credential for one upstream pull, exactly as `get` finds it: the helper's cache, the
// same cross-process single flight, the same failure policy (resolveCredential), asked with
// the repository (a brokered registry answers with a registry token for it). undefined means
// the service has none (the pull goes upstream anonymously).
export interface MirrorCredentials {
  get(registry: string, repository: string): Promise<HostCredential | undefined>;
  // After the upstream refused it: the next get asks the service again.
  drop(registry: string, repository: string): void;
}

// Answers are also kept in memory for a moment (at most MEMORY_MS, and never past the moment
// the cache would ask the service again), so the requests of one pull do not each read the
// cache files.
const MEMORY_MS = 10_000;

export function createMirrorCredentials(deps: {
  settings: HelperSettings;
  log: Diagnostics;
  cache: CredentialCache;
  client: () => Promise<ServiceClient>;
  now?: () => number;
}): MirrorCredentials {
  const now = deps.now ?? Date.now;
  // Registries seen answering with repository tokens: their fetches single-flight per repository.
  const brokered = new Set<string>();
  const memory = new Map<string, { credential: HostCredential | undefined; until: number }>();
  return {
    async get(registry, repository) {
      const key = cacheKeyOf(registry, repository);
      const kept = memory.get(key);
      if (kept && now() < kept.until) return kept.credential;
      const credential = await resolveCredential({ registry, repository }, deps.settings, deps.log, {
        cache: deps.cache,
        client: deps.client,
        brokered,
      });
      const at = now();
      const until = Math.min(
        at + MEMORY_MS,
        credential === undefined ? Infinity : (credential.freshUntil?.getTime() ?? at),
      );
      if (until > at) {
        if (memory.size > 10_000) memory.clear();
        memory.set(key, { credential, until });
      }
      return credential;
    },
    drop(registry, repository) {
      for (const key of memory.keys()) if (key === registry || key.startsWith(`${registry} `)) memory.delete(key);
      for (const key of [registry, cacheKeyOf(registry, repository)]) {
        try {
          deps.cache.erase(key);
        } catch (error) {
          deps.log.warn(`cannot drop the cached credential for ${registry} (${oneLine(error)})`);
        }
      }
    },
  };
}
