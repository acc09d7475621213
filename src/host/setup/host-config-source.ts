import { loadHelperSettings } from '../settings/settings.ts';
import { CodedError, isCodedError } from '../../common/errors.ts';
import { createServiceClient, type HostConfigEndpoint } from '../client/service-client.ts';
import { DOCKER_HUB_KEY, isDockerHubKey, normalizeRegistryKey } from '../../registry/registry-key.ts';
import { mirrorRegistryKey } from '../../registry/mirror-url.ts';
import { validateMirrorUrl } from '../../registry/url-rules.ts';
import { DEFAULT_ENDPOINT_URL, type EndpointChoice } from './mirror-endpoint.ts';
import type { SetupOptions } from './setup-options.ts';

export interface HostSetup {
  // The registry mirrors themselves (from --mirror or the server).
  mirrors: string[];
  // What the engine files name as Docker Hub mirror: the endpoint when it is used, else the mirrors.
  engineMirrors: string[];
  // The host-local mirror endpoint's URL when the engines are pointed at it.
  endpoint?: string;
  // Why the endpoint is or is not used, when that is worth a line.
  endpointNote?: string;
  keys: string[];
  source: string;
}

// What to configure: --mirror/--registry from the command line (no server needed), else the
// server's host config. The helper is named for the registries and for each mirror's own host,
// which podman, containerd and rewritten references look credentials up by. Without the
// endpoint it is also named for Docker Hub (dockerd sends the Hub credential to the mirror);
// with the endpoint it is not: the endpoint fetches its own credential and drops the engine's,
// and whatever the client attached would go to Docker Hub itself when dockerd falls back.
export async function resolveHostSetup(
  options: SetupOptions,
  env: Record<string, string | undefined>,
): Promise<HostSetup> {
  let mirrors = options.mirrors;
  let registries = options.registries;
  let fleet: HostConfigEndpoint | undefined;
  let source = 'command line';
  // --registry or --local-name alone works without a server, and takes its mirrors when there is one.
  const commandLineOnly = (registries.length > 0 || options.localName !== undefined) && !(await serverConfigured(env));
  if (mirrors.length === 0 && !commandLineOnly) {
    const settings = await loadHelperSettings(env);
    const hostConfig = await createServiceClient(settings).getHostConfig();
    mirrors = hostConfig.mirrors;
    if (registries.length === 0) registries = hostConfig.registries;
    fleet = hostConfig.endpoint;
    source = `server ${settings.server}`;
  }
  return hostSetupFrom({ mirrors, registries, fleet, choice: options.mirrorEndpoint, source });
}

// The same decision from values already read (doctor checks the host against it).
export function hostSetupFrom(input: {
  mirrors: string[];
  registries: string[];
  fleet?: HostConfigEndpoint;
  choice: EndpointChoice;
  source: string;
}): HostSetup {
  const { source } = input;
  const validMirrors = [...new Set(input.mirrors.map((mirror) => fromSource(source, () => validateMirrorUrl(mirror))))];
  const registryKeys = input.registries.map((key) => fromSource(source, () => normalizeRegistryKey(key)));
  const { endpoint, note } = chooseEndpoint(
    input.choice,
    input.fleet,
    validMirrors.length > 0 || registryKeys.some(isDockerHubKey),
  );
  const keys = endpoint ? registryKeys.filter((key) => !isDockerHubKey(key)) : registryKeys;
  if (validMirrors.length > 0) keys.push(...(endpoint ? [] : [DOCKER_HUB_KEY]), ...validMirrors.map(mirrorRegistryKey));
  const engineMirrors = endpoint ? [endpoint] : validMirrors;
  return {
    mirrors: validMirrors,
    engineMirrors,
    ...(endpoint ? { endpoint } : {}),
    ...(note ? { endpointNote: note } : {}),
    keys: [...new Set(keys)],
    source,
  };
}

// The command line decides; else the server's fleet default, which only applies when the
// endpoint has somewhere to forward to (its upstreams, a mirror, or Docker Hub credentials).
function chooseEndpoint(
  choice: EndpointChoice,
  fleet: HostConfigEndpoint | undefined,
  hasMirrorOrHub: boolean,
): { endpoint?: string; note?: string } {
  if (choice.kind === 'on') return { endpoint: choice.url };
  if (choice.kind === 'off')
    return fleet?.enabled
      ? { note: 'the server enables the mirror endpoint for the fleet; not used here (--no-mirror-endpoint)' }
      : {};
  if (!fleet?.enabled) return {};
  if (fleet.upstreams.length === 0 && !hasMirrorOrHub)
    return {
      note: 'the server enables the mirror endpoint but names nothing for it to forward to; engines left as they are',
    };
  return {
    endpoint: DEFAULT_ENDPOINT_URL,
    note: `engines use the mirror endpoint ${DEFAULT_ENDPOINT_URL} (the server's fleet default)`,
  };
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
    throw new CodedError(
      error.code,
      `the host config of ${source} is not usable: ${error.message}; ask the dstack operator to fix it, or pass --mirror/--registry`,
      { cause: error },
    );
  }
}
