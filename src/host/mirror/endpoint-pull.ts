import type { ServiceClient } from '../client/service-client.ts';
import type { CredentialCache } from '../cache/credential-cache.ts';
import type { Diagnostics } from '../credentials/diagnostics.ts';
import type { HelperSettings } from '../settings/settings.ts';
import { createMirrorCredentials } from './forwarding/mirror-credentials.ts';
import type { PullDeps } from './forwarding/forward-pull.ts';
import { createUpstreamAuth } from './upstream/upstream-auth.ts';
import { createUpstreamHttp } from './upstream/upstream-http.ts';
import type { UpstreamSource } from './upstream/upstream-source.ts';

// The endpoint's pull machinery, built one way for the three that use it: `mirror` serving
// pulls, its /_dstack/probe, and `doctor` probing without a running endpoint. The upstream
// HTTP (the host's CA and proxy), the token dance (realm binding includes the dstack server's
// own host, where an issuer registry sends its pull tickets) and the credentials exactly as
// `get` finds them.
export interface EndpointPullOptions {
  settings: HelperSettings;
  log: Diagnostics;
  cache: CredentialCache;
  client: () => Promise<ServiceClient>;
  upstreams: UpstreamSource;
  // Time an upstream may take to start answering.
  responseTimeoutMs: number;
  onTokenFetch?: (realm: string) => void;
  extra?: Pick<PullDeps, 'piped' | 'readScope'>;
}

export function createEndpointPull(options: EndpointPullOptions): { pull: PullDeps; close(): void } {
  const { settings } = options;
  const http = createUpstreamHttp({
    caFile: settings.caFile,
    proxyEnv: settings.proxyEnv,
    responseTimeoutMs: options.responseTimeoutMs,
    exchangeTimeoutMs: settings.timeoutMs,
  });
  const pull: PullDeps = {
    ...options.extra,
    http,
    auth: createUpstreamAuth({
      http,
      sharedDeadlineMs: 2 * settings.timeoutMs,
      serverRealmHosts: serverHost(settings.server),
      ...(options.onTokenFetch ? { onTokenFetch: options.onTokenFetch } : {}),
    }),
    credentials: createMirrorCredentials({
      settings,
      log: options.log,
      cache: options.cache,
      client: options.client,
    }),
    upstreams: options.upstreams,
  };
  return { pull, close: () => http.close() };
}

// The dstack server's host:port, a realm every upstream's credential may go to (upstream-auth.ts).
function serverHost(server: string): string[] {
  try {
    return [new URL(server).host];
  } catch {
    return [];
  }
}
