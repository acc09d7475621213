// Loopback hosts: where plain HTTP is acceptable without a TLS-terminating proxy.
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(?:\.\d{1,3}){3}$/.test(bare);
}

// The host of a `host[:port]` registry key or listen address (brackets kept for IPv6).
export function hostOf(hostPort: string): string {
  const v6 = /^(\[[^\]]*\])(?::\d+)?$/.exec(hostPort);
  if (v6) return v6[1]!;
  const colon = hostPort.lastIndexOf(':');
  return colon === -1 ? hostPort : hostPort.slice(0, colon);
}
