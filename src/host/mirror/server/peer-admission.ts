import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { oneLine } from '../../../common/errors.ts';
import type { MirrorLog } from './mirror-log.ts';
import type { MirrorMetrics } from './mirror-metrics.ts';
import type { PeerPolicy } from './peer-policy.ts';
import type { ConnectionEnds } from './peer-uid.ts';
import { sendRegistryError } from '../upstream/registry-error.ts';

// Connections one uid other than 0 may hold open at once (--max-connections-per-uid). A pull
// through dockerd or containerd uses a handful (3 concurrent layers by default), skopeo and
// podman at most about 6: 64 leaves room for several at once, while no user can hold the
// endpoint's descriptors (1024 under a default LimitNOFILE) away from root.
export const DEFAULT_MAX_CONNECTIONS_PER_UID = 64;

// How long a refused peer's connection stays open for its first request, so that it reads the
// 403 and why; then it is closed whatever it sent. Every answer to a refused peer closes the
// connection once written (no keep-alive).
export const REFUSED_LINGER_MS = 2_000;

// One warning per uid at the cap per this long (a user that keeps reconnecting must not flood the log).
const CAP_WARNING_EVERY_MS = 60_000;

export interface PeerAdmissionDeps {
  policy: PeerPolicy;
  peerUid(ends: ConnectionEnds): Promise<number | undefined>;
  log: MirrorLog;
  metrics: MirrorMetrics;
  maxConnectionsPerUid: number;
  openConnections(): number;
}

export interface PeerAdmission {
  // At accept: look the peer up, and close the connection at once if its uid is at the cap.
  judge(socket: Socket): void;
  // Before answering a request: true to go on; otherwise the answer (403, or 503 when the
  // socket table could not be read) has been sent and the connection closes after it.
  admitted(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

type Verdict =
  | { kind: 'known'; uid: number | undefined; allowed: boolean; told: boolean }
  | { kind: 'failed'; error: unknown; told: boolean };

// Who is at the other end is decided once per connection from the kernel's socket table.
// Three outcomes, never confused: allowed; refused (403, the uid named); unknown because the
// table could not be read (503, the cause named): a failed read says nothing about the peer,
// so it must not turn into "a peer the kernel does not list", which would refuse root.
export function createPeerAdmission(deps: PeerAdmissionDeps): PeerAdmission {
  const verdicts = new WeakMap<Socket, Promise<Verdict>>();
  const perUid = new Map<string, number>();
  const warnedAt = new Map<string, number>();

  const lingering = new WeakMap<Socket, NodeJS.Timeout>();

  function lookUp(socket: Socket): Promise<Verdict> {
    const ends = {
      localAddress: socket.localAddress ?? '',
      localPort: socket.localPort ?? 0,
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
    };
    const verdict = deps.peerUid(ends).then(
      (uid): Verdict => hold(socket, { kind: 'known', uid, allowed: deps.policy.allows(uid), told: false }),
      (error: unknown): Verdict => {
        linger(socket);
        return { kind: 'failed', error, told: false };
      },
    );
    verdicts.set(socket, verdict);
    return verdict;
  }

  // Counts the connection against its uid (root is never capped) and closes it when over the
  // cap; a peer that may not pull gets REFUSED_LINGER_MS to send its request.
  function hold(socket: Socket, verdict: Extract<Verdict, { kind: 'known' }>): Verdict {
    clearTimeout(lingering.get(socket));
    lingering.delete(socket);
    if (socket.destroyed) return verdict;
    if (verdict.uid !== 0) {
      // A peer the tables do not list is another host (--allow-non-loopback): capped per address.
      const key = verdict.uid === undefined ? `host ${socket.remoteAddress}` : `uid ${verdict.uid}`;
      const held = perUid.get(key) ?? 0;
      if (held >= deps.maxConnectionsPerUid) {
        deps.metrics.increment('dstack_mirror_capped_connections_total');
        warnCapped(key);
        socket.destroy();
        return verdict;
      }
      perUid.set(key, held + 1);
      socket.once('close', () => {
        const left = (perUid.get(key) ?? 1) - 1;
        if (left > 0) perUid.set(key, left);
        else perUid.delete(key);
      });
    }
    if (!verdict.allowed) linger(socket);
    return verdict;
  }

  // Closes the connection REFUSED_LINGER_MS from now, whatever it is doing.
  function linger(socket: Socket): void {
    if (socket.destroyed || lingering.has(socket)) return;
    const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
    timer.unref();
    lingering.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  }

  function warnCapped(key: string): void {
    const now = Date.now();
    if (now - (warnedAt.get(key) ?? -Infinity) < CAP_WARNING_EVERY_MS) return;
    warnedAt.set(key, now);
    deps.log.warn(
      `closed a connection from ${key}: it already holds ${deps.maxConnectionsPerUid} connections, the cap per uid (--max-connections-per-uid); further ones are closed at once, with this warning at most once a minute`,
    );
  }

  async function admitted(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const socket = req.socket;
    let verdict = await (verdicts.get(socket) ?? lookUp(socket));
    // The read may have failed for a moment (descriptors freed since): one more try.
    if (verdict.kind === 'failed') verdict = await lookUp(socket);
    // Closed meanwhile (over its uid's cap, or lingered out): nothing to answer.
    if (socket.destroyed) return false;
    if (verdict.kind === 'known' && verdict.allowed) return true;
    res.setHeader('connection', 'close');
    if (verdict.kind === 'failed') {
      if (!verdict.told) {
        verdict.told = true;
        deps.metrics.increment('dstack_mirror_peer_lookup_failures_total');
        deps.log.warn(
          `cannot tell who is connecting from ${socket.remoteAddress}:${socket.remotePort}: reading the kernel's socket table (/proc/net/tcp) failed: ${oneLine(verdict.error)}${descriptorHint(verdict.error, deps.openConnections())}; answered 503`,
        );
      }
      sendRegistryError(
        res,
        req.method,
        503,
        'UNAVAILABLE',
        'the endpoint cannot check who is connecting right now (see its log); retry shortly',
        { 'retry-after': '5' },
      );
      return false;
    }
    if (!verdict.told) {
      verdict.told = true;
      deps.metrics.increment('dstack_mirror_refused_peers_total');
      const who = verdict.uid === undefined ? 'a peer whose uid the kernel does not list' : `uid ${verdict.uid}`;
      deps.log.warn(
        `refused connection from ${who} (${socket.remoteAddress}:${socket.remotePort}): this endpoint serves ${deps.policy.describe()} only; widen it with --allow-uid or --allow-gid`,
      );
    }
    const message = `uid ${verdict.uid ?? 'unknown'} may not pull through this endpoint (it serves ${deps.policy.describe()}; see --allow-uid, --allow-gid)`;
    sendRegistryError(res, req.method, 403, 'DENIED', message);
    return false;
  }

  return { judge: (socket) => void lookUp(socket), admitted };
}

// What to do when a read or an accept failed because the process is out of descriptors.
export function descriptorHint(error: unknown, open: number): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'EMFILE' && code !== 'ENFILE') return '';
  return `; the endpoint has run out of file descriptors (${open} connections open): raise its limit (LimitNOFILE), or lower --max-connections-per-uid`;
}
