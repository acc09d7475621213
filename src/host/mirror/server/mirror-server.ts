import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { oneLine } from '../../../common/errors.ts';
import { trackSockets } from '../../../common/graceful-stop.ts';
import { answerPing, forwardPull, type PullDeps, type PullRecord } from '../forwarding/forward-pull.ts';
import type { MirrorLog } from './mirror-log.ts';
import type { MirrorMetrics } from './mirror-metrics.ts';
import { createPeerAdmission, DEFAULT_MAX_CONNECTIONS_PER_UID, descriptorHint } from './peer-admission.ts';
import type { PeerPolicy } from './peer-policy.ts';
import type { ConnectionEnds } from './peer-uid.ts';
import { routeRequest, type MirrorRoute } from '../forwarding/pull-route.ts';
import { MirrorError, sendRegistryError } from '../upstream/registry-error.ts';
import { probeUpstream } from '../forwarding/probe.ts';

export interface MirrorServerDeps {
  pull: PullDeps;
  metrics: MirrorMetrics;
  log: MirrorLog;
  policy: PeerPolicy;
  peerUid(ends: ConnectionEnds): Promise<number | undefined>;
  // Open connections one uid other than 0 may hold (peer-admission.ts); default 64.
  maxConnectionsPerUid?: number;
  // PEM certificate (chain) and key: serve https on the same listener.
  tls?: { cert: Buffer; key: Buffer };
}

export interface MirrorServer {
  server: Server;
  // Connections open now; `onIdle` runs each time the count drops to zero.
  openConnections(): number;
  onConnectionsChange(listener: (open: number) => void): void;
}

// The endpoint's HTTP server: who is at the other end is decided once per connection from the
// kernel's socket table; each request is then routed (pull subset, health, metrics, probe),
// forwarded, logged in one line and counted.
export function createMirrorServer(deps: MirrorServerDeps): MirrorServer {
  const listeners: Array<(open: number) => void> = [];
  let open = 0;
  const admission = createPeerAdmission({
    policy: deps.policy,
    peerUid: deps.peerUid,
    log: deps.log,
    metrics: deps.metrics,
    maxConnectionsPerUid: deps.maxConnectionsPerUid ?? DEFAULT_MAX_CONNECTIONS_PER_UID,
    openConnections: () => open,
  });
  const admitted = (req: IncomingMessage, res: ServerResponse): Promise<boolean> => admission.admitted(req, res);
  const respond = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      deps.log.warn(`internal error answering ${req.method} ${String(req.url).slice(0, 200)}: ${oneLine(error)}`);
      sendRegistryError(res, req.method, 500, 'UNAVAILABLE', 'internal error in the mirror endpoint; see its log');
    });
  };
  // https.Server has http.Server's methods (close*, keep-alive) over a tls.Server.
  const server: Server = deps.tls
    ? (createHttpsServer(
        { keepAliveTimeout: 30_000, cert: deps.tls.cert, key: deps.tls.key },
        respond,
      ) as unknown as Server)
    : createServer({ keepAliveTimeout: 30_000 }, respond);
  trackSockets(server);

  server.on('connection', (socket: Socket) => {
    open++;
    deps.metrics.increment('dstack_mirror_connections_total');
    for (const listener of listeners) listener(open);
    socket.once('close', () => {
      open--;
      for (const listener of listeners) listener(open);
    });
    if (!deps.tls) admission.judge(socket);
  });
  // Under TLS a request's socket is the TLSSocket over the raw one: judge that one (same ends).
  if (deps.tls) server.on('secureConnection', (socket: Socket) => admission.judge(socket));
  // After listening, a server error is a failed accept (EMFILE when out of descriptors: libuv
  // then drops the pending connections). Logged with the cause, at most once a minute; an
  // unhandled one would end the process.
  let acceptWarnedAt = -Infinity;
  server.on('listening', () =>
    server.on('error', (error) => {
      if (Date.now() - acceptWarnedAt < 60_000) return;
      acceptWarnedAt = Date.now();
      deps.log.warn(`could not accept a connection: ${oneLine(error)}${descriptorHint(error, open)}`);
    }),
  );

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = performance.now();
    let route: MirrorRoute;
    try {
      route = routeRequest(req.method, req.url);
    } catch (error) {
      if (!(error instanceof MirrorError)) throw error;
      if (!(await admitted(req, res))) return;
      deps.log.info(
        `refused ${logfmt({ method: req.method, path: String(req.url).slice(0, 200), status: error.status, cause: error.reason, error: error.message })}`,
      );
      deps.metrics.increment('dstack_mirror_requests_total', { kind: 'other', status: String(error.status) });
      sendRegistryError(res, req.method, error.status, error.code, error.message);
      return;
    }
    if (route.kind === 'healthz') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 16 });
      res.end(req.method === 'HEAD' ? undefined : '{"status":"ok"}\n');
      return;
    }
    if (route.kind === 'metrics') {
      const body = deps.metrics.render();
      res.writeHead(200, {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (!(await admitted(req, res))) return;
    if (route.kind === 'probe') {
      const answer = await probeUpstream(deps.pull, route.query);
      const body = `${JSON.stringify(answer)}\n`;
      deps.log.info(
        `probe ${logfmt({ upstream: answer.upstream ?? undefined, status: answer.status, ok: answer.ok, detail: answer.detail })}`,
      );
      res.writeHead(answer.ok ? 200 : 502, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (route.kind === 'ping') {
      answerPing(res, req.method);
      deps.metrics.increment('dstack_mirror_requests_total', { kind: 'ping', status: '200' });
      return;
    }
    const record: PullRecord = { bytes: 0 };
    try {
      await forwardPull(req, res, route, deps.pull, record);
    } catch (error) {
      const failure =
        error instanceof MirrorError
          ? error
          : new MirrorError(500, 'UNAVAILABLE', 'internal', `internal error: ${oneLine(error)}`);
      record.status = failure.status;
      record.cause = failure.reason;
      sendRegistryError(res, req.method, failure.status, failure.code, failure.message);
      deps.metrics.increment('dstack_mirror_upstream_errors_total', { cause: failure.reason });
      logPull(req, res, route, record, startedAt, failure.message);
      return;
    }
    logPull(req, res, route, record, startedAt);
  }

  function logPull(
    req: IncomingMessage,
    response: ServerResponse,
    route: Exclude<MirrorRoute, { kind: 'healthz' | 'metrics' | 'probe' | 'ping' }>,
    record: PullRecord,
    startedAt: number,
    error?: string,
  ): void {
    const done = (): void => {
      const status = record.status ?? 0;
      const complete = response.writableFinished;
      deps.metrics.increment('dstack_mirror_requests_total', { kind: route.kind, status: String(status) });
      if (record.bytes > 0)
        deps.metrics.increment('dstack_mirror_response_bytes_total', { kind: route.kind }, record.bytes);
      deps.log.info(
        `pull ${logfmt({
          method: req.method,
          kind: route.kind,
          repository: route.repository,
          ref: route.reference || undefined,
          upstream: record.upstream,
          upstream_repository:
            record.upstreamRepository !== undefined && record.upstreamRepository !== route.repository
              ? record.upstreamRepository
              : undefined,
          status,
          bytes: record.bytes,
          ms: Math.round(performance.now() - startedAt),
          ...(complete ? {} : { aborted: true }),
          cause: record.cause,
          error,
        })}`,
      );
    };
    if (response.closed) done();
    else response.once('close', done);
  }

  return {
    server,
    openConnections: () => open,
    onConnectionsChange: (listener) => listeners.push(listener),
  };
}

// key=value pairs, values quoted when they hold spaces or quotes; undefined ones left out.
export function logfmt(fields: Record<string, string | number | boolean | undefined>): string {
  return Object.entries(fields)
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([key, value]) => {
      const text = String(value);
      return /^[^\s"=]+$/.test(text) ? `${key}=${text}` : `${key}=${JSON.stringify(text)}`;
    })
    .join(' ');
}
