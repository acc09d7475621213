import { isLoopbackHost } from '../../../registry/loopback.ts';

// Where an upstream's redirect (a blob served from object storage) may send the engine. The
// engine follows a Location from this host, so a Location is a request this host makes on the
// upstream's word: it must not carry user info (the engine would send it as a credential),
// and must not point at this host's own services (loopback, the unspecified address) or at
// link-local and cloud metadata addresses (169.254.0.0/16 with 169.254.169.254, fe80::/10,
// fd00:ec2::254, 100.100.100.200, metadata.google.internal), where instance credentials live.
// A loopback target is accepted when the upstream itself is on loopback: the operator's own
// registry on this host may redirect within it. Pure text, as loopback.ts.
export type LocationProblem = 'not_url' | 'not_http' | 'user_info' | 'loopback' | 'link_local' | 'metadata';

export type LocationVerdict = { ok: true; href: string } | { ok: false; problem: LocationProblem; shown: string };

export function checkLocation(location: string, base: URL, upstreamOrigin: string): LocationVerdict {
  let url: URL;
  try {
    url = new URL(location, base);
  } catch {
    return { ok: false, problem: 'not_url', shown: location.slice(0, 100) };
  }
  const shown = `${url.protocol}//${url.host}`;
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { ok: false, problem: 'not_http', shown: url.protocol };
  if (url.username !== '' || url.password !== '') return { ok: false, problem: 'user_info', shown };
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (isMetadataHost(host)) return { ok: false, problem: 'metadata', shown };
  if (isLinkLocalHost(host)) return { ok: false, problem: 'link_local', shown };
  if (isLoopbackHost(host) || isUnspecifiedHost(host)) {
    if (!isLoopbackHost(new URL(upstreamOrigin).hostname)) return { ok: false, problem: 'loopback', shown };
  }
  return { ok: true, href: url.href };
}

export function describeLocationProblem(problem: LocationProblem): string {
  switch (problem) {
    case 'not_url':
      return 'is not a URL';
    case 'not_http':
      return 'is not http(s)';
    case 'user_info':
      return 'carries user info (a credential the engine would send)';
    case 'loopback':
      return 'points at this host (loopback), where an upstream off this host has no business sending the engine';
    case 'link_local':
      return 'points at a link-local address (169.254.0.0/16, fe80::/10)';
    case 'metadata':
      return 'points at a cloud metadata address';
  }
}

// An IPv4 address as the URL parser writes it, or the IPv4 inside an IPv4-mapped IPv6 one
// (`::ffff:a9fe:a9fe`); undefined for anything else.
function ipv4Of(host: string): number[] | undefined {
  const dotted = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (dotted) return dotted.slice(1).map(Number);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return undefined;
  const hi = parseInt(mapped[1]!, 16);
  const lo = parseInt(mapped[2]!, 16);
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
}

function isLinkLocalHost(host: string): boolean {
  const v4 = ipv4Of(host);
  if (v4) return v4[0] === 169 && v4[1] === 254;
  return /^fe[89ab][0-9a-f]:/.test(host);
}

function isMetadataHost(host: string): boolean {
  const v4 = ipv4Of(host)?.join('.');
  if (v4 === '169.254.169.254' || v4 === '100.100.100.200') return true;
  if (host === 'fd00:ec2::254') return true;
  return /^metadata(?:\.google)?\.internal\.?$/.test(host) || host === 'metadata.goog';
}

function isUnspecifiedHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || ipv4Of(host)?.[0] === 0;
}
