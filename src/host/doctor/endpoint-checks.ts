import type { ProbeAnswer } from '../mirror/forwarding/probe.ts';
import type { Diagnostics } from '../credentials/diagnostics.ts';
import { endpointHealth } from '../setup/engines/endpoint-health.ts';
import { probeDirectly, probeThroughEndpoint } from './upstream-probe.ts';
import { skipped, type Check, type CheckResult } from './doctor-check.ts';

const START_FIX =
  'enable the socket: systemctl enable --now docker-credential-dstack-mirror.socket (scripts/install.sh installs it), or run `docker-credential-dstack mirror` as root';

// The host-local mirror endpoint answers where the engines are pointed (when they are).
export const mirrorEndpoint: Check = async (ctx) => {
  const name = 'mirror endpoint';
  if (!ctx.setup) return skipped(name, ctx.setupError ? "the server's host config is not usable" : 'no host config');
  const endpoint = ctx.setup.endpoint;
  if (!endpoint)
    return skipped(
      name,
      'not used: the engines are pointed at the mirrors themselves (configure --mirror-endpoint, or the fleet default, turns it on)',
    );
  const health = await endpointHealth(endpoint);
  ctx.endpointUp = health.ok;
  return health.ok
    ? { status: 'ok', name, detail: `${endpoint} answers /healthz` }
    : {
        status: 'fail',
        name,
        detail: `nothing answers at ${endpoint} (${health.why}): every pull falls back to Docker Hub`,
        fix: START_FIX,
      };
};

// The one probe that shows a wrong password on the server: the upstream's /v2/ asked with the
// credential this host gets, through the endpoint when the engines use it, else from here.
export const upstreamProbe: Check = async (ctx) => {
  const name = 'upstream';
  if (!ctx.setup || !ctx.hostConfig || !ctx.settings || !ctx.client) return skipped(name, 'no host config');
  const endpoint = ctx.setup.endpoint;
  if (endpoint) {
    if (!ctx.endpointUp) return skipped(name, 'the mirror endpoint does not answer');
    const probe = await probeThroughEndpoint(endpoint, Math.max(30_000, ctx.settings.timeoutMs * 3));
    if (probe.kind === 'unreachable')
      return { status: 'fail', name, detail: `the probe through ${endpoint} failed: ${probe.detail}`, fix: START_FIX };
    if (probe.kind === 'refused') {
      return {
        status: 'fail',
        name,
        detail: `${endpoint} refused the probe with HTTP ${probe.status}: ${probe.detail}`,
        fix:
          probe.status === 403
            ? 'run doctor as root (the endpoint serves uid 0 and the users its --allow-uid/--allow-gid name)'
            : 'see the endpoint log (journalctl -u docker-credential-dstack-mirror.service)',
      };
    }
    return fromAnswer(probe.answer, `through ${endpoint}`);
  }
  if (ctx.setup.engineMirrors.length === 0 && ctx.hostConfig.endpoint.upstreams.length === 0)
    return skipped(name, 'no mirror to probe');
  const warnings: string[] = [];
  const log: Diagnostics = { debug: () => {}, warn: (msg) => warnings.push(msg) };
  const answer = await probeDirectly(ctx.settings, ctx.client, ctx.hostConfig, log);
  const result = fromAnswer(answer, 'from this host');
  return warnings.length === 0 ? result : { ...result, detail: `${result.detail} (${warnings.join('; ')})` };
};

function fromAnswer(answer: ProbeAnswer, how: string): CheckResult {
  const name = answer.upstream ? `upstream ${answer.upstream}` : 'upstream';
  const status = answer.status === 0 ? 'not reached' : `/v2/ answered HTTP ${answer.status}`;
  if (answer.ok) return { status: 'ok', name, detail: `${status} ${how}: ${answer.detail}` };
  return { status: 'fail', name, detail: `${status} ${how}: ${answer.detail}`, fix: probeFix(answer) };
}

// The fix follows the probe's reason word, never its message text.
function probeFix(answer: ProbeAnswer): string {
  const registry = answer.registry ?? 'it';
  if (answer.reason === 'upstream_401')
    return `the registry refuses the credential the dstack server hands out for ${registry}: the operator must fix the password or token dstack-registry-auth holds; until then every pull falls back to Docker Hub`;
  if (answer.reason === 'upstream_needs_credential')
    return `the registry wants a credential and the dstack server has none for ${registry}: the operator must add ${registry} to dstack-registry-auth's registries; until then every pull falls back to Docker Hub`;
  return 'check the upstream URL in the host config and that the registry runs';
}
