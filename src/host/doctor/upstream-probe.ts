import { request } from 'node:http';
import { oneLine } from '../../common/errors.ts';
import { registryErrorMessage } from '../../contract/registry-error-body.ts';
import type { HostConfig, ServiceClient } from '../client/service-client.ts';
import type { Diagnostics } from '../credentials/diagnostics.ts';
import { openHelperCache } from '../credentials/open-helper-cache.ts';
import type { HelperSettings } from '../settings/settings.ts';
import { createEndpointPull } from '../mirror/endpoint-pull.ts';
import { probeUpstream, type ProbeAnswer } from '../mirror/forwarding/probe.ts';
import { fixedUpstreams, upstreamsFromHostConfig } from '../mirror/upstream/upstream-source.ts';

export type EndpointProbe =
  | { kind: 'answer'; answer: ProbeAnswer }
  | { kind: 'refused'; status: number; detail: string }
  | { kind: 'unreachable'; detail: string };

// The endpoint's own probe (GET /_dstack/probe): the first upstream's /v2/ asked with the
// credential the endpoint gets, as a pull would. Only uid 0 and the allowed users may ask.
export function probeThroughEndpoint(endpoint: string, timeoutMs: number): Promise<EndpointProbe> {
  return new Promise((resolve) => {
    const req = request(
      new URL('/_dstack/probe', endpoint),
      { method: 'GET', timeout: timeoutMs, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('error', () => resolve({ kind: 'unreachable', detail: 'the answer broke off' }));
        res.once('end', () => {
          const body = Buffer.concat(chunks).toString('utf8').slice(0, 4096);
          const answer = parseProbe(body);
          if (answer) resolve({ kind: 'answer', answer });
          else resolve({ kind: 'refused', status: res.statusCode ?? 0, detail: refusalMessage(body) });
        });
      },
    );
    req.once('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs / 1000} s`)));
    req.once('error', (error: NodeJS.ErrnoException) =>
      resolve({ kind: 'unreachable', detail: error.code ?? error.message }),
    );
    req.end();
  });
}

// Without the endpoint: the same probe, run here with the endpoint's own parts, against the
// upstream the endpoint would use (docs/mirror.md: endpoint upstreams, else the mirrors).
export async function probeDirectly(
  settings: HelperSettings,
  client: ServiceClient,
  hostConfig: HostConfig,
  log: Diagnostics,
): Promise<ProbeAnswer> {
  const { pull, close } = createEndpointPull({
    settings,
    log,
    cache: openHelperCache(settings, log),
    client: async () => client,
    upstreams: fixedUpstreams(upstreamsFromHostConfig(hostConfig, log)),
    responseTimeoutMs: settings.timeoutMs,
  });
  try {
    return await probeUpstream(pull, new URLSearchParams());
  } catch (error) {
    return { upstream: null, registry: null, status: 0, ok: false, reason: 'probe_failed', detail: oneLine(error) };
  } finally {
    close();
  }
}

function parseProbe(body: string): ProbeAnswer | undefined {
  try {
    const value = JSON.parse(body) as Partial<ProbeAnswer>;
    if (typeof value.ok === 'boolean' && typeof value.status === 'number' && typeof value.detail === 'string') {
      // An endpoint started from an older binary sends no reason: its 401 meant upstream_401.
      const reason =
        typeof value.reason === 'string'
          ? value.reason
          : value.status === 401
            ? 'upstream_401'
            : value.ok
              ? 'ok'
              : 'upstream_status';
      return {
        upstream: value.upstream ?? null,
        registry: value.registry ?? null,
        status: value.status,
        ok: value.ok,
        reason,
        detail: value.detail,
      };
    }
  } catch {
    // not the probe's answer
  }
  return undefined;
}

// The message of a registry error body (src/contract/registry-error-body.ts), the endpoint's refusal.
function refusalMessage(body: string): string {
  return registryErrorMessage(body) ?? 'no probe answer';
}
