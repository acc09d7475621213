import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CodedError } from '../../../common/errors.ts';

// The stop is the one both servers share (src/common/graceful-stop.ts); kept exported here for
// the endpoint's callers.
export { STOP_GRACE_MS, stopServing } from '../../../common/graceful-stop.ts';

// Listens on host:port, or on an inherited socket (systemd), and says where: SCHEME://HOST:PORT.
export function listenOn(
  server: Server,
  where: { fd: number } | { host: string; port: number },
  scheme: 'http' | 'https' = 'http',
): Promise<string> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException): void => {
      const at =
        'fd' in where
          ? `the socket passed by systemd (fd ${where.fd})`
          : `${where.host.includes(':') ? `[${where.host}]` : where.host}:${where.port}`;
      const hint =
        error.code === 'EADDRINUSE'
          ? ': another process listens there; stop it or choose another --listen'
          : error.code === 'EACCES'
            ? ': not permitted'
            : '';
      reject(new CodedError('listen_failed', `cannot listen on ${at} (${error.code ?? error.message})${hint}`));
    };
    server.once('error', failed);
    const ready = (): void => {
      server.off('error', failed);
      const address = server.address() as AddressInfo | string | null;
      if (address === null || typeof address === 'string') resolve(String(address ?? 'the inherited socket'));
      else
        resolve(`${scheme}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`);
    };
    if ('fd' in where) server.listen({ fd: where.fd }, ready);
    else server.listen({ host: where.host, port: where.port, exclusive: true }, ready);
  });
}
