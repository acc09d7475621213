import { oneLine } from '../../common/errors.ts';
import type { CredentialCache } from '../cache/credential-cache.ts';
import { nullCache } from '../cache/credential-cache.ts';
import { ensurePrivateDir, openFileCache } from '../cache/file-cache.ts';
import type { Diagnostics } from './diagnostics.ts';
import type { HelperSettings } from '../settings/settings.ts';

// The helper's cache in settings.cacheDir, or no cache at all (with a warning) when that
// directory is unsafe, say owned by someone else: a credential is never put where others
// could read or plant it.
export function openHelperCache(settings: Pick<HelperSettings, 'cacheDir'>, diagnostics: Diagnostics): CredentialCache {
  try {
    ensurePrivateDir(settings.cacheDir, process.getuid?.() ?? 0);
  } catch (error) {
    diagnostics.warn(`not caching credentials: ${oneLine(error)}`);
    return nullCache;
  }
  // A waiter re-reads the entry every few ms while another process fetches: say each reason once.
  const said = new Set<string>();
  return openFileCache(settings.cacheDir, {
    onIgnored: (reason) => {
      if (said.has(reason)) return;
      said.add(reason);
      diagnostics.warn(reason);
    },
  });
}
