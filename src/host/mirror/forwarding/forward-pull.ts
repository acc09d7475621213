import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { isCodedError, oneLine } from '../../../common/errors.ts';
import type { MirrorCredentials } from './mirror-credentials.ts';
import { engineResponseHeaders, upstreamRequestHeaders } from './forward-headers.ts';
import type { PullRoute } from './pull-route.ts';
import { API_VERSION, API_VERSION_HEADER, MirrorError, type RegistryErrorCode } from '../upstream/registry-error.ts';
import type { UpstreamAuth } from '../upstream/upstream-auth.ts';
import type { UpstreamHttp } from '../upstream/upstream-http.ts';
import { upstreamRepositories, type Upstream } from '../upstream/upstream.ts';
import type { UpstreamSource } from '../upstream/upstream-source.ts';
import { isUnauthorized, sendAuthenticated, type Unauthorized } from './authenticated-send.ts';
import { MANIFEST_MAX_BYTES, readManifestBody } from './manifest-body.ts';
import { answerRefusal } from '../upstream/upstream-answer-check.ts';
import type { ReadScope } from './metadata-only.ts';

export interface PullDeps {
  // Told how many body bytes went through (see memory-pacer.ts).
  piped?: (bytes: number) => void;
  http: UpstreamHttp;
  auth: UpstreamAuth;
  credentials: MirrorCredentials;
  upstreams: UpstreamSource;
  // --metadata-only: blobs only when a served manifest named them as its config.
  readScope?: ReadScope;
}

// What happened to one request, filled in as it goes, for the log line and the metrics
// (read when the response closes, also after a client went away mid-body).
export interface PullRecord {
  status?: number;
  upstream?: string;
  upstreamRepository?: string;
  bytes: number;
  cause?: string;
}

type Attempt =
  | {
      kind: 'response';
      response: IncomingMessage;
      request: ClientRequest;
      url: URL;
      upstream: Upstream;
      repository: string;
      body?: Buffer;
    }
  | { kind: 'not_found' }
  | { kind: 'failure'; error: MirrorError }
  | { kind: 'gone' };

// Forwards one pull: each upstream in order, each name the library setting gives in order;
// a 404 tries the next name or upstream, so does a failure (the first failure is what the
// engine hears if nothing succeeds). The body is piped from the upstream response to the
// engine as it comes (backpressure through pipe), never buffered.
export async function forwardPull(
  req: IncomingMessage,
  res: ServerResponse,
  route: Exclude<PullRoute, { kind: 'ping' }>,
  deps: PullDeps,
  record: PullRecord,
): Promise<void> {
  if (route.kind === 'blob') deps.readScope?.checkBlob(route.repository, route.reference);
  const upstreams = await deps.upstreams.current();
  if (upstreams.length === 0)
    throw new MirrorError(
      503,
      'UNAVAILABLE',
      'no_upstream',
      'no upstream is configured: the dstack server names none (and no --upstream was given)',
    );
  let failure: MirrorError | undefined;
  const tried: string[] = [];
  for (const upstream of upstreams) {
    for (const repository of upstreamRepositories(upstream, route.repository)) {
      const attempt = await attemptPull(req, res, route, upstream, repository, deps);
      if (attempt.kind === 'gone') return;
      if (attempt.kind === 'response') {
        if (attempt.body !== undefined && route.kind === 'manifest')
          deps.readScope?.remember(route.repository, attempt.body);
        return stream(attempt, req, res, route, record, deps.piped);
      }
      tried.push(`${upstream.origin}/v2/${repository}`);
      if (attempt.kind === 'failure') {
        if (!failure) {
          failure = attempt.error;
          record.upstream = upstream.url;
        }
        break; // the next upstream; another name here would fail alike
      }
    }
  }
  if (failure) throw failure;
  const { code, what } = notFound(route);
  throw new MirrorError(
    404,
    code,
    'upstream_404',
    `${what} not found upstream (asked ${tried.slice(0, 4).join(', ')})`,
  );
}

async function attemptPull(
  req: IncomingMessage,
  res: ServerResponse,
  route: Exclude<PullRoute, { kind: 'ping' }>,
  upstream: Upstream,
  repository: string,
  deps: PullDeps,
): Promise<Attempt> {
  const sent = await sendAuthenticated<Attempt>(deps, upstream, repository, (authorization) =>
    sendPull(req, res, route, upstream, repository, deps, authorization),
  );
  if (sent.kind === 'credential_failed') return { kind: 'failure', error: sent.error };
  if (!isUnauthorized(sent.answer)) return sent.answer;
  if (sent.anonymous)
    return failed(
      403,
      'DENIED',
      'upstream_401',
      `upstream ${upstream.url} needs a credential for ${repository} (HTTP 401) and the dstack server has none for ${upstream.registry} (or could not be asked; see the endpoint's log)`,
    );
  return failed(
    403,
    'DENIED',
    'upstream_401',
    `upstream ${upstream.url} refused the credential from the dstack server for ${repository} (HTTP 401, also after fetching a fresh one): check the password or token the dstack server holds for ${upstream.registry}`,
  );
}

// One request upstream with the given authorization; a 401 is reported for sendAuthenticated.
async function sendPull(
  req: IncomingMessage,
  res: ServerResponse,
  route: Exclude<PullRoute, { kind: 'ping' }>,
  upstream: Upstream,
  repository: string,
  deps: PullDeps,
  authorization: string | undefined,
): Promise<Attempt | Unauthorized> {
  if (res.destroyed) return { kind: 'gone' };
  const url = new URL(`/v2/${repository}/${pathTail(route)}`, upstream.origin);
  const headers: Record<string, string> = upstreamRequestHeaders(req.headers);
  if (authorization !== undefined) headers.authorization = authorization;
  const { request, response: pending } = deps.http.open(req.method ?? 'GET', url, headers);
  const abort = (): void => {
    if (!res.writableFinished) request.destroy();
  };
  res.once('close', abort);
  let response: IncomingMessage;
  try {
    response = await pending;
  } catch (error) {
    res.off('close', abort);
    if (res.destroyed) return { kind: 'gone' };
    return {
      kind: 'failure',
      error: new MirrorError(
        502,
        'UNAVAILABLE',
        isCodedError(error, 'upstream_timeout') ? 'upstream_timeout' : 'upstream_unreachable',
        `upstream ${upstream.url}: ${oneLine(error)}`,
      ),
    };
  }
  res.off('close', abort);
  const status = response.statusCode ?? 502;
  if (status === 401) {
    response.resume();
    return { kind: 'unauthorized', challenge: response.headers['www-authenticate'] };
  }
  if (status === 404) {
    response.resume();
    return { kind: 'not_found' };
  }
  if (status < 400) {
    const refusal = answerRefusal(response, status, upstream, url);
    if (refusal) {
      request.destroy();
      return { kind: 'failure', error: refusal };
    }
    if (route.kind !== 'manifest' || status < 200 || status >= 300 || status === 204)
      return { kind: 'response', response, request, url, upstream, repository };
    // A manifest is read whole under the cap before the engine sees it (manifest-body.ts).
    if (req.method === 'HEAD') {
      const declared = Number(response.headers['content-length']);
      response.resume();
      if (declared > MANIFEST_MAX_BYTES)
        return failed(
          502,
          'MANIFEST_INVALID',
          'manifest_too_large',
          `upstream ${upstream.url} declares a manifest of ${declared} bytes, past the ${MANIFEST_MAX_BYTES / 1024 / 1024} MiB cap on manifests (as distribution's): refused; check the upstream`,
        );
      return { kind: 'response', response, request, url, upstream, repository };
    }
    res.once('close', abort);
    try {
      const body = await readManifestBody(response, request, upstream.url);
      return { kind: 'response', response, request, url, upstream, repository, body };
    } catch (error) {
      if (res.destroyed) return { kind: 'gone' };
      return {
        kind: 'failure',
        error:
          error instanceof MirrorError
            ? error
            : new MirrorError(
                502,
                'UNAVAILABLE',
                'upstream_unreachable',
                `upstream ${upstream.url}: ${oneLine(error)}`,
              ),
      };
    } finally {
      res.off('close', abort);
    }
  }
  response.resume();
  if (status === 403)
    return failed(403, 'DENIED', 'upstream_403', `upstream ${upstream.url} denied access to ${repository} (HTTP 403)`);
  if (status === 429)
    return failed(429, 'TOOMANYREQUESTS', 'upstream_429', `upstream ${upstream.url} is rate limiting pulls (HTTP 429)`);
  if (status === 416)
    return failed(
      416,
      'RANGE_INVALID',
      'upstream_416',
      `upstream ${upstream.url} cannot serve the requested range (HTTP 416)`,
    );
  if (status >= 500)
    return failed(502, 'UNAVAILABLE', 'upstream_5xx', `upstream ${upstream.url} failed with HTTP ${status}`);
  return failed(
    502,
    'UNAVAILABLE',
    'upstream_4xx',
    `upstream ${upstream.url} answered HTTP ${status} for ${repository}`,
  );
}

function failed(status: number, code: RegistryErrorCode, reason: string, message: string): Attempt {
  return { kind: 'failure', error: new MirrorError(status, code, reason, message) };
}

function stream(
  attempt: Extract<Attempt, { kind: 'response' }>,
  req: IncomingMessage,
  res: ServerResponse,
  route: Exclude<PullRoute, { kind: 'ping' }>,
  record: PullRecord,
  piped?: (bytes: number) => void,
): Promise<void> {
  const { response, request, url } = attempt;
  const status = response.statusCode ?? 502;
  record.status = status;
  record.upstream = attempt.upstream.url;
  record.upstreamRepository = attempt.repository;
  const headers = engineResponseHeaders(response.headers, {
    status,
    url,
    engineRepository: route.repository,
    upstreamRepository: attempt.repository,
  });
  if (attempt.body !== undefined) {
    headers['content-length'] = attempt.body.length;
    res.writeHead(status, headers);
    record.bytes += attempt.body.length;
    piped?.(attempt.body.length);
    res.end(attempt.body);
    return finished(res);
  }
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || (status >= 300 && status < 400) || status === 204) {
    response.resume();
    res.end();
    return finished(res);
  }
  response.on('data', (chunk: Buffer) => {
    record.bytes += chunk.length;
    piped?.(chunk.length);
  });
  // A client that goes away aborts the upstream request; an upstream that breaks off
  // mid-body cuts the engine's response (it then retries or falls back), never ends it clean.
  res.once('close', () => {
    if (!res.writableFinished) request.destroy();
  });
  response.once('close', () => {
    if (!response.complete) res.destroy();
  });
  response.on('error', () => res.destroy());
  response.pipe(res);
  return finished(res);
}

function finished(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.closed) resolve();
    else res.once('close', () => resolve());
  });
}

function pathTail(route: Exclude<PullRoute, { kind: 'ping' }>): string {
  if (route.kind === 'manifest') return `manifests/${route.reference}`;
  if (route.kind === 'blob') return `blobs/${route.reference}`;
  return `tags/list${route.query === '' ? '' : `?${route.query}`}`;
}

function notFound(route: Exclude<PullRoute, { kind: 'ping' }>): { code: RegistryErrorCode; what: string } {
  if (route.kind === 'manifest')
    return { code: 'MANIFEST_UNKNOWN', what: `manifest ${route.repository}:${route.reference}` };
  if (route.kind === 'blob') return { code: 'BLOB_UNKNOWN', what: `blob ${route.reference} of ${route.repository}` };
  return { code: 'NAME_UNKNOWN', what: `repository ${route.repository}` };
}

// GET /v2/: dockerd pings the mirror first; answered here, without going upstream.
export function answerPing(res: ServerResponse, method: string | undefined): void {
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': 3,
    [API_VERSION_HEADER]: API_VERSION,
  });
  res.end(method === 'HEAD' ? undefined : '{}\n');
}
