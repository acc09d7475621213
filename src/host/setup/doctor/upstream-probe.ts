import { request } from 'node:http';
import { oneLine } from '../../../common/errors.ts';
import type { HostConfig, ServiceClient } from '../../client/service-client.ts';
import type { Diagnostics } from '../../helper/diagnostics.ts';
import { openHelperCache } from '../../helper/open-helper-cache.ts';
import type { HelperSettings } from '../../helper/settings.ts';
import { createMirrorCredentials } from '../../mirror/mirror-credentials.ts';
import { probeUpstream, type ProbeAnswer } from '../../mirror/probe.ts';
import { createUpstreamAuth } from '../../mirror/upstream-auth.ts';
import { createUpstreamHttp } from '../../mirror/upstream-http.ts';
import { fixedUpstreams, upstreamsFromHostConfig } from '../../mirror/upstream-source.ts';

export type EndpointProbe = { kind: 'answer'; answer: ProbeAnswer } | { kind: 'refused'; status: number; detail: string } | { kind: 'unreachable'; detail: string };

// The endpoint's own probe (GET /_dstack/probe): the first upstream's /v2/ asked with the
// credential the endpoint gets, as a pull would. Only uid 0 and the allowed users may ask.
export function probeThroughEndpoint(endpoint: string, timeoutMs: number): Promise<EndpointProbe> {
  return new Promise((resolve) => {
    const req = request(new URL('/_dstack/probe', endpoint), { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', () => resolve({ kind: 'unreachable', detail: 'the answer broke off' }));
      res.once('end', () => {
        const body = Buffer.concat(chunks).toString('utf8').slice(0, 4096);
        const answer = parseProbe(body);
        if (answer) resolve({ kind: 'answer', answer });
        else resolve({ kind: 'refused', status: res.statusCode ?? 0, detail: registryErrorMessage(body) });
      });
    });
    req.once('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs / 1000} s`)));
    req.once('error', (error: NodeJS.ErrnoException) => resolve({ kind: 'unreachable', detail: error.code ?? error.message }));
    req.end();
  });
}

// Without the endpoint: the same probe, run here with the endpoint's own parts, against the
// upstream the endpoint would use (docs/mirror.md: endpoint upstreams, else the mirrors).
export async function probeDirectly(settings: HelperSettings, client: ServiceClient, hostConfig: HostConfig, log: Diagnostics): Promise<ProbeAnswer> {
  const http = createUpstreamHttp({ caFile: settings.caFile, proxyEnv: settings.proxyEnv, responseTimeoutMs: settings.timeoutMs, exchangeTimeoutMs: settings.timeoutMs });
  try {
    const deps = {
      http,
      auth: createUpstreamAuth({ http }),
      credentials: createMirrorCredentials({ settings, log, cache: openHelperCache(settings, log), client: async () => client }),
      upstreams: fixedUpstreams(upstreamsFromHostConfig(hostConfig, log)),
    };
    return await probeUpstream(deps, new URLSearchParams());
  } catch (error) {
    return { upstream: null, registry: null, status: 0, ok: false, detail: oneLine(error) };
  } finally {
    http.close();
  }
}

function parseProbe(body: string): ProbeAnswer | undefined {
  try {
    const value = JSON.parse(body) as Partial<ProbeAnswer>;
    if (typeof value.ok === 'boolean' && typeof value.status === 'number' && typeof value.detail === 'string') {
      return { upstream: value.upstream ?? null, registry: value.registry ?? null, status: value.status, ok: value.ok, detail: value.detail };
    }
  } catch {
    // not the probe's answer
  }
  return undefined;
}

// The message of a registry error body ({"errors":[{"message"}]}), the endpoint's refusal.
function registryErrorMessage(body: string): string {
  try {
    const message = (JSON.parse(body) as { errors?: Array<{ message?: unknown }> }).errors?.[0]?.message;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the registry's text loses its control characters
    if (typeof message === 'string') return message.replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, 200);
  } catch {
    // fall through
  }
  return 'no probe answer';
}
