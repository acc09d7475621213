import type { AddressInfo } from 'node:net';
import { Secret } from '../../src/common/secret.ts';
import type { HostCredential } from '../../src/host/credentials/host-credential.ts';
import { createMirrorMetrics } from '../../src/host/mirror/server/mirror-metrics.ts';
import { createMirrorServer } from '../../src/host/mirror/server/mirror-server.ts';
import { createUpstreamAuth } from '../../src/host/mirror/upstream/upstream-auth.ts';
import { createUpstreamHttp } from '../../src/host/mirror/upstream/upstream-http.ts';
import { fixedUpstreams } from '../../src/host/mirror/upstream/upstream-source.ts';
import type { Upstream } from '../../src/host/mirror/upstream/upstream.ts';

// The endpoint's server in this process, on loopback, against real local HTTP stand-ins:
// the forwarding itself (headers, bodies, redirects, the token dance), with a fixed
// credential instead of the dstack server and every peer admitted. The log is kept in memory.
export interface InProcessMirror {
  url: string;
  lines: string[];
  // Credentials handed to the forwarding, per registry key (counted when asked for).
  credentialAsks: number;
  close(): Promise<void>;
}

export async function startInProcessMirror(
  upstreams: Upstream[],
  credential?: { username: string; secret: string },
): Promise<InProcessMirror> {
  const lines: string[] = [];
  const http = createUpstreamHttp({ responseTimeoutMs: 10_000, exchangeTimeoutMs: 10_000 });
  const state = { credentialAsks: 0 };
  const log = {
    info: (msg: string) => lines.push(`info: ${msg}`),
    warn: (msg: string) => lines.push(`warn: ${msg}`),
    debug: () => {},
    close: async () => {},
  };
  const mirror = createMirrorServer({
    pull: {
      http,
      auth: createUpstreamAuth({ http }),
      credentials: {
        get: async (): Promise<HostCredential | undefined> => {
          state.credentialAsks++;
          return credential
            ? { kind: 'basic', username: credential.username, secret: new Secret(credential.secret) }
            : undefined;
        },
        drop: () => {},
      },
      upstreams: fixedUpstreams(upstreams),
    },
    metrics: createMirrorMetrics(),
    log,
    policy: { allows: () => true, describe: () => 'everyone (test)' },
    peerUid: async () => 0,
  });
  await new Promise<void>((resolve) => mirror.server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(mirror.server.address() as AddressInfo).port}`,
    lines,
    get credentialAsks() {
      return state.credentialAsks;
    },
    close: () =>
      new Promise<void>((resolve) => {
        mirror.server.closeAllConnections();
        mirror.server.close(() => {
          http.close();
          resolve();
        });
      }),
  };
}

// The log once a line matches `pattern` (a pull's line is written when its response closes).
export async function lineMatching(mirror: InProcessMirror, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const line = mirror.lines.find((l) => pattern.test(l));
    if (line !== undefined) return line;
    if (Date.now() > deadline) throw new Error(`no log line matches ${String(pattern)}:\n${mirror.lines.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
