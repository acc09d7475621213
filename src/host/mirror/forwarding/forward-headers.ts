import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { API_VERSION, API_VERSION_HEADER } from '../upstream/registry-error.ts';

// Request headers an engine's pull may carry upstream. Everything else stays here, above all
// the engine's own Authorization (dockerd sends the Docker Hub credential of the client) and
// cookies; the endpoint sets Authorization itself.
const REQUEST_HEADERS = ['accept', 'range', 'if-range', 'if-none-match', 'if-modified-since'] as const;

// Response headers an engine may see. No WWW-Authenticate (a realm is the upstream's
// business), no Set-Cookie, nothing hop-by-hop.
const RESPONSE_HEADERS = [
  'content-length',
  'content-range',
  'content-type',
  'docker-content-digest',
  'etag',
  'accept-ranges',
  'last-modified',
  'cache-control',
  'expires',
] as const;

// Accept-Encoding is always identity: an encoded answer is refused (upstream-answer-check.ts).
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders): Record<string, string> {
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  for (const name of REQUEST_HEADERS) {
    const value = incoming[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

export interface ResponseContext {
  status: number;
  // The URL the upstream answered for (a relative Location is resolved against it).
  url: URL;
  // The names the engine and the upstream use for the repository (tags/list pagination links).
  engineRepository: string;
  upstreamRepository: string;
}

export function engineResponseHeaders(upstream: IncomingHttpHeaders, context: ResponseContext): OutgoingHttpHeaders {
  const headers: Record<string, string | string[]> = { [API_VERSION_HEADER]: API_VERSION };
  for (const name of RESPONSE_HEADERS) {
    const value = upstream[name];
    if (value !== undefined) headers[name] = value;
  }
  // A redirect (blobs served from object storage) goes to the engine as is, resolved to an
  // absolute URL: relative to this endpoint it would point at the wrong host.
  if (context.status >= 300 && context.status < 400 && typeof upstream.location === 'string') {
    const location = absoluteLocation(upstream.location, context.url);
    if (location !== undefined) headers.location = location;
  }
  const link = typeof upstream.link === 'string' ? tagsLink(upstream.link, context) : undefined;
  if (link !== undefined) headers.link = link;
  return headers;
}

function absoluteLocation(location: string, base: URL): string | undefined {
  try {
    const url = new URL(location, base);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

// tags/list pagination: `</v2/<upstream name>/tags/list?n=…&last=…>; rel="next"` becomes the
// same link under the name the engine asked for; any other link is dropped.
function tagsLink(link: string, context: ResponseContext): string | undefined {
  const match = /^<([^>]*)>(.*)$/.exec(link.trim());
  if (!match) return undefined;
  let target: URL;
  try {
    target = new URL(match[1]!, context.url);
  } catch {
    return undefined;
  }
  if (target.origin !== context.url.origin || target.pathname !== `/v2/${context.upstreamRepository}/tags/list`)
    return undefined;
  return `</v2/${context.engineRepository}/tags/list${target.search}>${match[2]}`;
}
