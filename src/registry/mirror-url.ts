import { normalizeRegistryKey } from './registry-key.ts';

// Mirror URLs are checked by validateMirrorUrl (url-rules.ts); these read a checked one.
export function sameMirror(a: string, b: string): boolean {
  return a.trim().replace(/\/+$/, '').toLowerCase() === b.trim().replace(/\/+$/, '').toLowerCase();
}

// The registry key a mirror is looked up by: podman and containerd ask the helper for the
// mirror's own host, and so does the docker CLI for rewritten references.
export function mirrorRegistryKey(mirror: string): string {
  return normalizeRegistryKey(new URL(mirror).host);
}

// host[:port][/path] as containers-registries.conf wants a mirror `location` (no scheme).
export function mirrorLocation(mirror: string): string {
  const url = new URL(mirror);
  return `${url.host}${url.pathname.replace(/\/+$/, '')}`;
}
