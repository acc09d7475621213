import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CodedError } from '../../common/errors.ts';

// How long requests in flight may take to finish after SIGTERM before their connections are cut.
export const STOP_GRACE_MS = 10_000;

// Listens on host:port, or on an inherited socket (systemd), and says where: SCHEME://HOST:PORT.
export function listenOn(server: Server, where: { fd: number } | { host: string; port: number }, scheme: 'http' | 'https' = 'http'): Promise<string> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException): void => {
      const at = 'fd' in where ? `the socket passed by systemd (fd ${where.fd})` : `${where.host.includes(':') ? `[${where.host}]` : where.host}:${where.port}`;
      const hint = error.code === 'EADDRINUSE' ? ': another process listens there; stop it or choose another --listen' : error.code === 'EACCES' ? ': not permitted' : '';
      reject(new CodedError('listen_failed', `cannot listen on ${at} (${error.code ?? error.message})${hint}`));
    };
    server.once('error', failed);
    const ready = (): void => {
      server.off('error', failed);
      const address = server.address() as AddressInfo | string | null;
      if (address === null || typeof address === 'string') resolve(String(address ?? 'the inherited socket'));
      else resolve(`${scheme}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`);
    };
    if ('fd' in where) server.listen({ fd: where.fd }, ready);
    else server.listen({ host: where.host, port: where.port, exclusive: true }, ready);
  });
}

// Stops accepting, closes idle kept-alive connections at once, lets requests in flight finish
// for up to STOP_GRACE_MS, then cuts what is left.
export function stopServing(server: Server, graceMs = STOP_GRACE_MS): Promise<void> {
  return new Promise((resolve) => {
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
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
