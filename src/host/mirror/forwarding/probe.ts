import { oneLine } from '../../../common/errors.ts';
import { isRepositoryName } from '../../../registry/distribution-grammar.ts';
import { sendAuthenticated } from './authenticated-send.ts';
import type { PullDeps } from './forward-pull.ts';
import { upstreamRepositories } from '../upstream/upstream.ts';

// GET /_dstack/probe: does the first upstream accept the credential this host gets? It asks
// the upstream's /v2/ the way a pull would authenticate (the credential from the service, the
// token dance at the upstream's realm), so `doctor` catches a wrong password held by the
// server, which a credential request alone cannot show. `?repository=` names the repository
// a brokered registry's token is asked for (default library/hello-world).
export interface ProbeAnswer {
  upstream: string | null;
  registry: string | null;
  status: number;
  ok: boolean;
  // What happened, as a word doctor decides on (the detail is for people): ok, upstream_401
  // (the upstream refused the credential the server handed out), upstream_needs_credential
  // (it wants one and the server has none), upstream_status (another HTTP status), no_upstream,
  // upstream_unreachable, or the reason of the credential failure (credentialFailure).
  reason: string;
  detail: string;
}

export async function probeUpstream(deps: PullDeps, query: URLSearchParams): Promise<ProbeAnswer> {
  let upstreams;
  try {
    upstreams = await deps.upstreams.current();
  } catch (error) {
    return { upstream: null, registry: null, status: 0, ok: false, reason: 'no_upstream', detail: oneLine(error) };
  }
  const upstream = upstreams[0];
  if (!upstream)
    return {
      upstream: null,
      registry: null,
      status: 0,
      ok: false,
      reason: 'no_upstream',
      detail: 'no upstream is configured (no --upstream, and the dstack server names none)',
    };
  const asked = query.get('repository') ?? 'library/hello-world';
  const repository = upstreamRepositories(upstream, isRepositoryName(asked) ? asked : 'library/hello-world')[0]!;
  const base = { upstream: upstream.url, registry: upstream.registry };
  const sent = await sendAuthenticated<{ kind: 'status'; status: number } | { kind: 'unreachable'; error: unknown }>(
    deps,
    upstream,
    repository,
    async (authorization) => {
      try {
        const answer = await deps.http.exchange({
          method: 'GET',
          url: new URL('/v2/', upstream.origin),
          headers: authorization ? { authorization } : {},
          maxBody: 64 * 1024,
        });
        if (answer.status === 401) return { kind: 'unauthorized', challenge: answer.headers['www-authenticate'] };
        return { kind: 'status', status: answer.status };
      } catch (error) {
        return { kind: 'unreachable', error };
      }
    },
  );
  if (sent.kind === 'credential_failed') {
    const failure = sent.error;
    return {
      ...base,
      status: failure.reason === 'upstream_401' ? 401 : 0,
      ok: false,
      reason: failure.reason,
      detail: `${failure.reason}: ${failure.message}`,
    };
  }
  const { answer, anonymous } = sent;
  if (answer.kind === 'unreachable')
    return {
      ...base,
      status: 0,
      ok: false,
      reason: 'upstream_unreachable',
      detail: `upstream_unreachable: ${oneLine(answer.error)}`,
    };
  if (answer.kind === 'unauthorized')
    return {
      ...base,
      status: 401,
      ok: false,
      reason: anonymous ? 'upstream_needs_credential' : 'upstream_401',
      detail: anonymous
        ? 'the upstream needs a credential and the dstack server has none for it'
        : 'the upstream refused the credential from the dstack server (also a fresh one): check the password or token the dstack server holds',
    };
  if (answer.status === 200)
    return {
      ...base,
      status: 200,
      ok: true,
      reason: 'ok',
      detail: anonymous
        ? 'the upstream answers /v2/ without a credential (the dstack server has none for it)'
        : 'the upstream accepts the credential from the dstack server',
    };
  return {
    ...base,
    status: answer.status,
    ok: false,
    reason: 'upstream_status',
    detail: `the upstream answered /v2/ with HTTP ${answer.status}`,
  };
}
