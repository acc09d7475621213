import { normalizeRegistryKey } from '../../../registry/registry-key.ts';
import { urlRefusal, validateUpstreamUrl } from '../../../registry/url-rules.ts';
import { printable } from '../../../common/printable.ts';
import { realmHost } from '../../../registry/realm-binding.ts';

// What to do with Docker Hub's `library/` namespace: part of the contract (host-config).
import type { LibraryMode } from '../../../contract/library-mode.ts';
import { redactUrl } from '../../../common/redact-url.ts';
export { isLibraryMode, LIBRARY_MODES, type LibraryMode } from '../../../contract/library-mode.ts';

// Where the endpoint forwards pulls. `origin` is scheme://host[:port]; `prefix` is the path
// the URL carried (`https://harbor.example/dockerhub-proxy`): as podman and containerd read a
// mirror location, it is a repository namespace, so `library/python` is asked for as
// `dockerhub-proxy/library/python` (a Harbor proxy-cache project, an Artifactory remote
// repository). `registry` is the key its credential is asked for.
export interface Upstream {
  url: string;
  origin: string;
  prefix: string;
  registry: string;
  library: LibraryMode;
  // Token realm hosts (host[:port]) its credential may go to besides its own host
  // (src/registry/realm-binding.ts): --upstream-realm, or the host config's `realms`.
  realms?: readonly string[];
}

// An upstream from a URL (`--upstream`, host-config), by the upstream URL rules
// (src/registry/url-rules.ts: plain http only for loopback hosts, the path a namespace).
export function parseUpstream(
  text: string,
  options: { registry?: string; library?: LibraryMode; realms?: readonly string[] } = {},
): Upstream {
  const raw = text.trim();
  const url = validateUpstreamUrl(raw);
  const registry = options.registry ?? normalizeRegistryKey(url.host);
  const realms = (options.realms ?? []).map((entry) => {
    const host = realmHost(entry);
    if (host === undefined)
      throw urlRefusal(
        'upstream',
        raw,
        `its realm "${printable(redactUrl(entry), 100)}" is not a host[:port]; list the realm's host[:port] only (no scheme, path or user info)`,
      );
    return host;
  });
  return {
    url: url.url,
    origin: url.origin,
    prefix: url.prefix,
    registry,
    library: options.library ?? 'keep',
    ...(realms.length > 0 ? { realms } : {}),
  };
}

// The repository names to ask `upstream` for, in order, for the name the engine asked.
export function upstreamRepositories(upstream: Upstream, repository: string): string[] {
  const names = libraryCandidates(repository, upstream.library);
  return upstream.prefix === '' ? names : names.map((name) => `${upstream.prefix}/${name}`);
}

// Two ways an engine names a Docker Hub official image here: `library/python` (dockerd's
// Docker Hub mirror request) and `python` (local-name mode: dstack's rewrite makes
// `127.0.0.1:8484/python:3.14`, with no `library/`). Why one component means official:
// on Docker Hub, the only registry whose names may lack a namespace, a bare name is
// exactly `library/<name>`; both forms then follow the upstream's `library` setting.
// A namespaced name (`myteam/app`, `dstackai/base`) is a path and is kept.
export function libraryCandidates(repository: string, mode: LibraryMode): string[] {
  const official = repository.includes('/') ? repository : `library/${repository}`;
  if (!official.startsWith('library/')) return [repository];
  const bare = official.slice('library/'.length);
  if (mode === 'keep') return [official];
  return mode === 'strip' ? [bare] : [official, bare];
}
