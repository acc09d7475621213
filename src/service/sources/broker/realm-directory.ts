import type { RegistryEntry } from '../../core/ports.ts';
import { CodedError } from '../../../common/errors.ts';
import { defaultUpstreamUrl } from '../../config/registry-urls.ts';
import { discoverRealm, DiscoveryFailed, NotBrokerable, type TokenRealm } from './discover-realm.ts';
import type { RetryPolicy } from './upstream-request.ts';

// The token realm of each brokered registry, asked for once. At start-up a registry that cannot
// be brokered stops the service; one that does not answer is asked again at its first request
// (one discovery at a time per registry), so a registry that is down during a restart does not
// keep the service, and every other registry, from starting.
export interface RealmDirectory {
  discoverAll(): Promise<void>;
  realmOf(entry: RegistryEntry): Promise<TokenRealm>;
}

export function createRealmDirectory(
  registries: RegistryEntry[],
  log: (line: string) => void,
  policy?: RetryPolicy,
): RealmDirectory {
  const known = new Map<string, TokenRealm>();
  const pending = new Map<string, Promise<TokenRealm>>();

  const discover = (entry: RegistryEntry): Promise<TokenRealm> => {
    let running = pending.get(entry.key);
    if (!running) {
      running = discoverRealm(
        entry.key,
        entry.upstreamUrl ?? defaultUpstreamUrl(entry.key, entry.mirrorUrl),
        policy,
        entry.realms,
      )
        .then((realm) => {
          known.set(entry.key, realm);
          return realm;
        })
        .finally(() => pending.delete(entry.key));
      pending.set(entry.key, running);
    }
    return running;
  };

  return {
    async discoverAll() {
      const brokered = registries.filter((entry) => entry.source === 'broker');
      const results = await Promise.allSettled(brokered.map(discover));
      for (const [index, result] of results.entries()) {
        if (result.status === 'fulfilled') continue;
        const entry = brokered[index]!;
        if (result.reason instanceof NotBrokerable) throw result.reason;
        if (result.reason instanceof DiscoveryFailed) {
          log(
            `warning: registry ${entry.key} (source broker): ${result.reason.why}; starting without its token realm, which is asked for again at the first request for it`,
          );
        } else throw result.reason;
      }
    },
    async realmOf(entry) {
      const realm = known.get(entry.key);
      if (realm) return realm;
      try {
        return await discover(entry);
      } catch (error) {
        if (error instanceof DiscoveryFailed)
          throw new CodedError(
            'unavailable',
            `registry ${entry.key} (source broker): ${error.why}; no token realm yet`,
          );
        if (error instanceof NotBrokerable) throw new CodedError('unavailable', error.message);
        throw error;
      }
    },
  };
}
