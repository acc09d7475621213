import { CodedError, oneLine } from '../../common/errors.ts';
import { printable } from '../../common/printable.ts';
import { redactUrl } from '../../common/redact-url.ts';
import { normalizeRegistryKey } from '../../registry/registry-key.ts';
import type { CredentialStore } from '../protocol/credential-store.ts';
import { freshnessOf } from '../cache/cache-entry.ts';
import type { Diagnostics } from './diagnostics.ts';
import { openHelperCache } from './open-helper-cache.ts';
import { resolveCredential } from './resolve-credential.ts';
import type { HelperSettings } from '../settings/settings.ts';

export interface StoreDeps {
  // Settings are loaded per action: `list` and `erase` work without a configured server.
  settings(options: { requireServer: boolean }): HelperSettings;
  diagnostics(settings: HelperSettings): Diagnostics;
}

// The protocol's backend: credentials come from the dstack server through the cache;
// nothing is ever stored from outside.
export function createDstackCredentialStore(deps: StoreDeps): CredentialStore {
  return {
    async get(serverUrl) {
      const settings = deps.settings({ requireServer: true });
      const diagnostics = deps.diagnostics(settings);
      // docker CLI 28 drops a helper's stdout error on `pull` and goes on anonymously; stderr reaches the user.
      const answer = await resolveCredential(normalizeRegistryKey(serverUrl), settings, diagnostics).catch(
        (error: unknown) => {
          diagnostics.warn(oneLine(error));
          throw error;
        },
      );
      // Asked without a repository, the answer is never a registry token (resolveCredential refuses one).
      return answer?.kind === 'basic'
        ? { ServerURL: serverUrl, Username: answer.username, Secret: answer.secret }
        : undefined;
    },
    async store(credentials) {
      throw new CodedError(
        'store_refused',
        `docker login is not needed for ${printable(redactUrl(credentials.ServerURL))}: docker-credential-dstack gets short-lived credentials from the dstack server and stores none`,
      );
    },
    async erase(serverUrl) {
      const settings = deps.settings({ requireServer: false });
      const diagnostics = deps.diagnostics(settings);
      const key = normalizeRegistryKey(serverUrl);
      openHelperCache(settings, diagnostics).erase(key);
      diagnostics.debug(`erased the cache entry for ${key}`);
    },
    async list() {
      const settings = deps.settings({ requireServer: false });
      const now = new Date();
      const listing: Record<string, string> = {};
      for (const entry of openHelperCache(settings, deps.diagnostics(settings)).list()) {
        if (entry.kind === 'credential' && freshnessOf(entry, now) !== 'expired')
          listing[entry.registry] = entry.username;
      }
      return listing;
    },
  };
}
