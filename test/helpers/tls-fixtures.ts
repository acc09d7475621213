import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';

// A self-signed certificate for an IP address, 127.0.0.1 unless told (made with the openssl
// CLI); `<name>.pem` in `dir` is what a CA-file setting points at, `<name>-key.pem` its key.
export async function makeCertificate(
  dir: string,
  options: { ip?: string; name?: string } = {},
): Promise<{ key: string; cert: string; certFile: string; keyFile: string }> {
  const ip = options.ip ?? '127.0.0.1';
  const certFile = join(dir, `${options.name ?? 'cert'}.pem`);
  const keyFile = join(dir, options.name ? `${options.name}-key.pem` : 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${ip}`,
      '-addext',
      `subjectAltName=IP:${ip}`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), certFile, keyFile };
}

// The certificate for 127.0.0.1 as cert.pem and key.pem.
export function makeLoopbackCertificate(dir: string) {
  return makeCertificate(dir);
}

// A minimal CONNECT proxy that records each tunnel's target.
export async function startConnectProxy(): Promise<{ url: string; tunnels: string[]; close: () => Promise<void> }> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const proxy: Server = createServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req, client: Socket, head: Buffer) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    tunnels,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
