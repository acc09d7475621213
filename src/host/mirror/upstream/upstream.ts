import { CodedError } from '../../../common/errors.ts';
import { repositoryProblem } from '../../../registry/distribution-grammar.ts';
import { normalizeRegistryKey } from '../../../registry/registry-key.ts';
import { isLoopbackHost } from '../../../registry/loopback.ts';
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

// An upstream from a URL (`--upstream`, host-config). Plain http only for loopback hosts:
// the credential would otherwise cross the network in clear text.
export function parseUpstream(
  text: string,
  options: { registry?: string; library?: LibraryMode; realms?: readonly string[] } = {},
): Upstream {
  const raw = text.trim();
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(raw, 'it is not a URL such as https://docker.mycompany.example');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw invalid(raw, `scheme ${url.protocol} is not http or https`);
  if (url.username !== '' || url.password !== '')
    throw invalid(raw, 'credentials in the URL are not allowed (the endpoint fetches them from the dstack server)');
  if (url.search !== '' || url.hash !== '' || raw.includes('?') || raw.includes('#'))
    throw invalid(raw, 'a query or fragment is not allowed');
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname))
    throw invalid(
      raw,
      `plain http:// would send the registry credential in clear text to ${url.hostname}; use https:// (http:// is allowed for loopback registries only)`,
    );
  const prefix = url.pathname.replace(/^\/+|\/+$/g, '');
  if (prefix !== '') {
    const problem = repositoryProblem(prefix);
    if (problem) throw invalid(raw, `the path "${prefix.slice(0, 100)}" is not a repository namespace (${problem})`);
  }
  const registry = options.registry ?? normalizeRegistryKey(url.host);
  const realms = (options.realms ?? []).map((entry) => {
    const host = realmHost(entry);
    if (host === undefined)
      throw invalid(raw, `realm "${entry.slice(0, 100)}" is not a host[:port] (no scheme, path or user info)`);
    return host;
  });
  return {
    url: `${url.origin}${prefix === '' ? '' : `/${prefix}`}`,
    origin: url.origin,
    prefix,
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

function invalid(raw: string, why: string): CodedError {
  const shown = redactUrl(raw).slice(0, 200);
  return new CodedError('upstream_invalid', `invalid upstream "${shown}": ${why}`);
}
