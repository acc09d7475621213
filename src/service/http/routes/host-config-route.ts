import type { RegistryEntry } from '../../core/ports.ts';
import type { HostConfigAnswer, HostConfigUpstream } from '../../../contract/host-config.ts';
import type { Route } from '../service-deps.ts';
import { DOCKER_HUB_KEY, isDockerHubKey, registryApiHost } from '../../../registry/registry-key.ts';
import { hasPathPrefix } from '../../config/registry-urls.ts';
import { authenticateInstance } from '../authenticate-instance.ts';
import { projectMayUse } from '../../core/project-access.ts';
import { sendJson } from '../http-io.ts';

// GET /v1/host-config: what `configure` writes on a runner host, limited to the registries
// the instance's project may use: engine mirrors, the keys to name the helper for, and the
// mirror endpoint's fleet default and upstreams.
export const hostConfigRoute: Route = async (req, res, deps) => {
  const identity = await authenticateInstance(req, deps);
  const usable = deps.config.registries.filter((entry) => projectMayUse(entry.projects, identity.project));
  // dockerd refuses a mirror URL with a path, so a path-prefixed mirror is for the endpoint only.
  const mirrors = unique(
    usable.flatMap((entry) => (entry.mirrorUrl && !hasPathPrefix(entry.mirrorUrl) ? [entry.mirrorUrl] : [])),
  );
  const registries = unique(usable.flatMap((entry) => [...entry.aliases, entry.key]));
  const answer: HostConfigAnswer = {
    mirrors,
    registries,
    endpoint: {
      enabled: deps.config.mirrorEndpoint,
      upstreams: usable.flatMap((entry) => endpointUpstream(entry, deps.config.publicUrl)),
    },
  };
  sendJson(res, 200, answer);
};

// A Docker Hub mirror is an upstream at its mirror URL; a Docker Hub entry (Docker Hub
// credentials without a mirror) makes Docker Hub itself the upstream. `realms`: the realm hosts
// the endpoint may send the credential to besides the upstream's own (the registry's setting;
// for an issuer registry also this service's public host, which is its realm).
function endpointUpstream(entry: RegistryEntry, publicUrl: string): HostConfigUpstream[] {
  const listed = [...(entry.realms ?? []), ...(entry.source === 'issuer' ? [new URL(publicUrl).host] : [])];
  const realms = listed.length > 0 ? { realms: [...new Set(listed)] } : {};
  if (entry.mirrorUrl && entry.aliases.includes(DOCKER_HUB_KEY))
    return [{ url: entry.mirrorUrl, registry: entry.key, library: entry.library ?? 'keep', ...realms }];
  if (isDockerHubKey(entry.key))
    return [
      {
        url: entry.upstreamUrl ?? `https://${registryApiHost(entry.key)}`,
        registry: entry.key,
        library: 'keep',
        ...realms,
      },
    ];
  return [];
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
