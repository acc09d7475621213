import type { LibraryMode } from '../core/ports.ts';
import { isLibraryMode } from '../../contract/library-mode.ts';
import { CodedError } from '../../common/errors.ts';
import { isDockerHubKey, registryApiHost } from '../../registry/registry-key.ts';
import { hostOf, isLoopbackHost } from '../../registry/loopback.ts';

// Where engines reach a mirror: https, or http for a registry on loopback (engines treat those as insecure-allowed).
export function defaultMirrorUrl(key: string): string {
  return `${isLoopbackHost(hostOf(key)) ? 'http' : 'https'}://${key}`;
}

// Where the registry's own API answers: the origin of its mirror URL when it is a mirror (a path
// prefix belongs to the mirror, not to `/v2/`), else its key as a URL (Docker Hub: its API host).
export function defaultUpstreamUrl(key: string, mirrorUrl: string | undefined): string {
  if (mirrorUrl !== undefined) return new URL(mirrorUrl).origin;
  return isDockerHubKey(key) ? `https://${registryApiHost(key)}` : defaultMirrorUrl(key);
}

// A mirror URL may carry a path prefix (Harbor proxy projects, Artifactory remote repositories):
// the mirror endpoint can use it, an engine's registry-mirrors cannot (dockerd refuses a path).
export function hasPathPrefix(mirrorUrl: string): boolean {
  const path = new URL(mirrorUrl).pathname;
  return path !== '' && path !== '/';
}

export function libraryMode(value: string, setting: string): LibraryMode {
  if (isLibraryMode(value)) return value;
  throw new CodedError(
    'config_invalid',
    `${setting}: "${value.slice(0, 20)}" is not a library mode; use keep (library/python), strip (python) or both`,
  );
}
