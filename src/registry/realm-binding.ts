// Which token realms a registry credential may be sent to: a realm on the same host as the
// registry it was fetched for (host AND port: another port is another service, on loopback
// any local user's), or one the configuration lists for that registry, never one an
// upstream's 401 merely names. Distribution's proxy binds the realm to its configured remote
// the same way (commit f215e513d). Both halves use it: the mirror endpoint before its token
// dance, the broker at realm discovery. Docker Hub's realm is listed built in (its API host
// registry-1.docker.io sends clients to auth.docker.io). Pure text.

const BUILT_IN: Record<string, readonly string[]> = {
  'registry-1.docker.io': ['auth.docker.io'],
  'index.docker.io': ['auth.docker.io'],
  'docker.io': ['auth.docker.io'],
};

// `host[:port]` as URL.host writes it (lowercase, default port dropped), or undefined when
// the text is not one (a scheme, path or user info is not allowed).
export function realmHost(text: string): string | undefined {
  const bare = text.trim();
  if (bare === '' || /[/@?#\s]/.test(bare)) return undefined;
  try {
    return new URL(`https://${bare}`).host;
  } catch {
    return undefined;
  }
}

// Whether a credential for the registry at `registryHost` (URL.host of its API URL) may go to
// `realm`. `listed`: the realm hosts the configuration allows besides (realmHost form).
export function realmBound(realm: URL, registryHost: string, listed: readonly string[] = []): boolean {
  const host = realm.host.toLowerCase();
  const own = registryHost.toLowerCase();
  if (host === own) return true;
  if (listed.some((entry) => entry.toLowerCase() === host)) return true;
  return (BUILT_IN[own] ?? []).includes(host);
}
