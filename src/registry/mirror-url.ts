import { CodedError } from '../common/errors.ts';
import { printable } from '../common/printable.ts';
import { redactUrl } from '../common/redact-url.ts';
import { normalizeRegistryKey } from './registry-key.ts';

// A registry mirror as dockerd accepts it in `registry-mirrors`: http(s) scheme required, no
// credentials, query or fragment (dockerd refuses to start otherwise). Returned without a
// trailing slash; dockerd itself shows mirrors with one, so compare with sameMirror().
export function validateMirrorUrl(input: string): string {
  const raw = input.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) throw invalid(raw, 'a scheme is required (https:// or http://)');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(raw, 'it is not a URL, e.g. https://mirror.example');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw invalid(raw, `scheme ${url.protocol}// is not http or https`);
  if (url.username !== '' || url.password !== '')
    throw invalid(raw, 'credentials in a mirror URL are not allowed (the helper supplies them)');
  if (url.search !== '' || raw.includes('?')) throw invalid(raw, 'a query string is not allowed');
  if (url.hash !== '' || raw.includes('#')) throw invalid(raw, 'a fragment is not allowed');
  if (url.hostname === '') throw invalid(raw, 'the host is missing');
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

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

function invalid(raw: string, why: string): CodedError {
  return new CodedError('mirror_invalid', `invalid mirror URL "${printable(redactUrl(raw))}": ${why}`);
}
