import { join } from 'node:path';
import { oneLine } from '../../../common/errors.ts';
import { DOCKER_HUB_KEY, isDockerHubKey, normalizeRegistryKey } from '../../../registry/registry-key.ts';
import { readOwnFile } from '../../cache/file-cache.ts';
import type { HostConfig, ServiceClient } from '../../client/service-client.ts';
import type { Diagnostics } from '../../credentials/diagnostics.ts';
import { MirrorError } from './registry-error.ts';
import { isLibraryMode, parseUpstream, type Upstream } from './upstream.ts';

// Docker Hub's API host, the upstream when the service has Docker Hub credentials and no mirror.
export const DOCKER_HUB_UPSTREAM = 'https://registry-1.docker.io';

// Where pulls go: the --upstream flags, or what the dstack server's host config says, asked
// at the first pull and again every few minutes. The last list the server gave is kept in the
// cache directory, so pulls keep working while the server is down (with cached credentials).
export interface UpstreamSource {
  current(): Promise<Upstream[]>;
}

const REFRESH_MS = 5 * 60_000;
const FILE_NAME = 'mirror-upstreams.json';

export function fixedUpstreams(upstreams: Upstream[]): UpstreamSource {
  return { current: async () => upstreams };
}

export function serviceUpstreams(deps: {
  client: () => Promise<ServiceClient>;
  cacheDir: string;
  log: Diagnostics;
  server: string;
  now?: () => number;
}): UpstreamSource {
  const now = deps.now ?? Date.now;
  let known: { upstreams: Upstream[]; at: number } | undefined;
  let pending: Promise<Upstream[]> | undefined;
  const path = join(deps.cacheDir, FILE_NAME);

  async function refresh(): Promise<Upstream[]> {
    try {
      const config = await (await deps.client()).getHostConfig();
      const upstreams = upstreamsFromHostConfig(config, deps.log);
      if (upstreams.length === 0)
        deps.log.warn(
          `dstack server ${deps.server} names no upstream for the mirror endpoint (no endpoint upstreams, no mirror, no Docker Hub credentials): pulls through it fail and the engines fall back to Docker Hub`,
        );
      known = { upstreams, at: now() };
      await remember(path, upstreams, deps.log);
      return upstreams;
    } catch (error) {
      const fallback = known?.upstreams ?? recall(path, deps.log);
      if (fallback) {
        deps.log.warn(
          `cannot refresh the upstreams from ${deps.server} (${oneLine(error)}); using the last known: ${fallback.map((u) => u.url).join(', ') || 'none'}`,
        );
        known = { upstreams: fallback, at: now() - REFRESH_MS + 30_000 };
        return fallback;
      }
      throw new MirrorError(
        503,
        'UNAVAILABLE',
        'service_unreachable',
        `no upstream known: asking the dstack server for its host config failed (${oneLine(error)})`,
      );
    }
  }

  return {
    async current() {
      if (known && now() - known.at < REFRESH_MS) return known.upstreams;
      pending ??= refresh().finally(() => {
        pending = undefined;
      });
      return pending;
    },
  };
}

// The upstreams a host config names, in the order of docs/mirror.md: the endpoint block's
// upstreams; else the engine mirrors (a service older than the endpoint block); else Docker
// Hub itself when the service has credentials for it.
export function upstreamsFromHostConfig(config: HostConfig, log: Diagnostics): Upstream[] {
  const parsed = (url: string, registry: string, library: string, realms?: string[]): Upstream[] => {
    try {
      return [
        parseUpstream(url, {
          registry: normalizeRegistryKey(registry),
          library: isLibraryMode(library) ? library : 'keep',
          ...(realms ? { realms } : {}),
        }),
      ];
    } catch (error) {
      log.warn(`ignoring upstream from the host config: ${oneLine(error)}`);
      return [];
    }
  };
  if (config.endpoint.upstreams.length > 0)
    return config.endpoint.upstreams.flatMap((u) => parsed(u.url, u.registry, u.library, u.realms));
  if (config.mirrors.length > 0) return config.mirrors.flatMap((mirror) => parsed(mirror, safeHost(mirror), 'keep'));
  if (config.registries.some(isDockerHubKey)) return parsed(DOCKER_HUB_UPSTREAM, DOCKER_HUB_KEY, 'keep');
  return [];
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

async function remember(path: string, upstreams: Upstream[], log: Diagnostics): Promise<void> {
  try {
    const { atomicWrite } = await import('../../../common/atomic-write.ts');
    await atomicWrite(path, `${JSON.stringify({ upstreams })}\n`, { mode: 0o600 });
  } catch (error) {
    log.debug(`cannot keep the upstream list in ${path} (${oneLine(error)})`);
  }
}

// Read with the cache's own checks (a FIFO here would hang the pull; another user's file would
// choose where the credentials go).
function recall(path: string, log: Diagnostics): Upstream[] | undefined {
  const text = readOwnFile(path, process.getuid?.() ?? 0, (reason) => log.warn(reason));
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as {
      upstreams?: Array<{ url?: unknown; registry?: unknown; library?: unknown; realms?: unknown }>;
    };
    if (!Array.isArray(value.upstreams)) return undefined;
    return value.upstreams.flatMap((u) => {
      if (typeof u.url !== 'string' || typeof u.registry !== 'string' || !isLibraryMode(u.library)) return [];
      try {
        const realms = Array.isArray(u.realms) ? u.realms.filter((r): r is string => typeof r === 'string') : [];
        return [parseUpstream(u.url, { registry: u.registry, library: u.library, realms })];
      } catch {
        return [];
      }
    });
  } catch {
    return undefined;
  }
}
