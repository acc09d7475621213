import { loadHelperSettings } from '../helper/settings.ts';
import { CodedError, isCodedError } from '../../common/errors.ts';
import { createServiceClient } from '../client/service-client.ts';
import { DOCKER_HUB_KEY, normalizeRegistryKey } from '../../registry/registry-key.ts';
import { validateMirrorUrl, mirrorRegistryKey } from '../../registry/mirror-url.ts';
import type { SetupOptions } from './setup-options.ts';

export interface HostSetup {
  mirrors: string[];
  keys: string[];
  source: string;
}

// What to configure: --mirror/--registry from the command line (no server needed), else the
// server's host config. The helper is named for the registries, for Docker Hub when there is a
// mirror (dockerd sends the Hub credential to it), and for each mirror's own host, which
// podman, containerd and rewritten references look credentials up by.
export async function resolveHostSetup(options: SetupOptions, env: Record<string, string | undefined>): Promise<HostSetup> {
  let mirrors = options.mirrors;
  let registries = options.registries;
  let source = 'command line';
  if (mirrors.length === 0 && !(registries.length > 0 && !(await serverConfigured(env)))) {
    const settings = await loadHelperSettings(env);
    const hostConfig = await createServiceClient(settings).getHostConfig();
    mirrors = hostConfig.mirrors;
    if (registries.length === 0) registries = hostConfig.registries;
    source = `server ${settings.server}`;
  }
  const validMirrors = [...new Set(mirrors.map((mirror) => fromSource(source, () => validateMirrorUrl(mirror))))];
  const keys = registries.map((key) => fromSource(source, () => normalizeRegistryKey(key)));
  if (validMirrors.length > 0) keys.push(DOCKER_HUB_KEY, ...validMirrors.map(mirrorRegistryKey));
  return { mirrors: validMirrors, keys: [...new Set(keys)], source };
}

// --registry alone takes the server's mirrors when there is a server, and works without one.
async function serverConfigured(env: Record<string, string | undefined>): Promise<boolean> {
  try {
    await loadHelperSettings(env);
    return true;
  } catch (error) {
    if (isCodedError(error, 'not_configured')) return false;
    throw error;
  }
}

// A bad value from the server is the operator's to fix, not the command line's: say where it came from.
function fromSource<T>(source: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (source === 'command line' || !isCodedError(error)) throw error;
    throw new CodedError(error.code, `the host config of ${source} is not usable: ${error.message}; ask the dstack operator to fix it, or pass --mirror/--registry`);
  }
}
