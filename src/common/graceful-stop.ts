import type { Server } from 'node:http';
import type { Socket } from 'node:net';

// The one graceful stop of both servers (the endpoint's and the service's). After SIGTERM
// requests in flight get STOP_GRACE_MS to finish: 10 s covers the longest wait either server
// makes on purpose (the service's broker gives a registry realm a 10 s deadline; the endpoint's
// credential and token exchanges fit in its 5 s budget) and stays well inside what a
// supervisor allows before SIGKILL (systemd's 90 s, Kubernetes' 30 s).
export const STOP_GRACE_MS = 10_000;

const tracked = new WeakMap<Server, Set<Socket>>();

// Remembers every raw socket of the server from its first byte, so the cut at the end of the
// grace also reaches a connection still in its TLS handshake or one handed off by an upgrade,
// which closeAllConnections (HTTP connections only) would leave to hold the stop.
export function trackSockets(server: Server): void {
  if (tracked.has(server)) return;
  const sockets = new Set<Socket>();
  tracked.set(server, sockets);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
}

// Stops accepting, closes idle kept-alive connections at once (and as they turn idle), lets
// requests in flight finish for up to graceMs, then cuts what is left.
export function stopServing(server: Server, graceMs = STOP_GRACE_MS): Promise<void> {
  return new Promise((resolve) => {
    const cut = setTimeout(() => {
      server.closeAllConnections();
      for (const socket of tracked.get(server) ?? []) socket.destroy();
    }, graceMs);
    // A kept-alive connection whose request finishes during the grace turns idle and would
    // hold the stop until the cut: close idle connections as they appear.
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    server.close(() => {
      clearTimeout(cut);
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}
