// The one loopback rule of the project: where plain HTTP is acceptable because the traffic
// never leaves the host (the helper's server URL, the service's listen address, a mirror or
// upstream on this host). `localhost`, 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8, in any
// spelling the URL parser produces (it writes ::ffff:127.0.0.1 as ::ffff:7f00:1). Pure text:
// the helper's hot path loads this, so no node:net.
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  if (/^127(?:\.\d{1,3}){3}$/.test(bare)) return true;
  if (bare === '::1' || /^(?:0{1,4}:){7}0{0,3}1$/.test(bare)) return true;
  return /^::ffff:127(?:\.\d{1,3}){3}$/.test(bare) || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(bare);
}

// The host of a `host[:port]` registry key or listen address (brackets kept for IPv6).
export function hostOf(hostPort: string): string {
  const v6 = /^(\[[^\]]*\])(?::\d+)?$/.exec(hostPort);
  if (v6) return v6[1]!;
  const colon = hostPort.lastIndexOf(':');
  return colon === -1 ? hostPort : hostPort.slice(0, colon);
}
