import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFile } from 'node:fs/promises';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { CodedError, oneLine } from '../../common/errors.ts';
import { STOP_GRACE_MS, stopServing, trackSockets } from '../../common/graceful-stop.ts';
import type { RequestHandler } from './router.ts';
import type { ServiceConfig } from '../config/service-config.ts';
import { printable } from '../../common/printable.ts';

export interface RunningServer {
  // The URL it answers on, with the real port when the configured one was 0.
  url: string;
  server: Server;
  // Stops accepting, lets requests in flight finish (at most graceMs, by default the one
  // STOP_GRACE_MS of src/common/graceful-stop.ts), then closes connections.
  close(graceMs?: number): Promise<void>;
}

// Listens on config.listen: HTTPS with the configured certificate, else plain HTTP (whether
// that is allowed is assertTransportAllowed's decision, made before).
export async function startServer(
  handler: RequestHandler,
  config: Pick<ServiceConfig, 'listen' | 'tls'>,
): Promise<RunningServer> {
  const server: Server = config.tls
    ? createHttpsServer(await tlsOptions(config.tls), handler)
    : createHttpServer(handler);
  // Slow or stuck clients must not hold sockets forever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  trackSockets(server);
  server.on('clientError', (_error, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  const { host, port } = splitListen(config.listen);
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        new CodedError(
          'listen_failed',
          `cannot listen on ${config.listen} (${error.code ?? error.message}); choose another address with --listen or DSTACK_REGISTRY_AUTH_LISTEN`,
        ),
      );
    };
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${config.tls ? 'https' : 'http'}://${host === 'localhost' ? 'localhost' : urlHost}:${address.port}`;
  return {
    url,
    server,
    close: (graceMs = STOP_GRACE_MS) => stopServing(server, graceMs),
  };
}

function splitListen(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(':');
  return { host: listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(listen.slice(colon + 1)) };
}

// Checks the certificate and key before handing them to TLS, whose own errors are raw OpenSSL
// text ("PEM routines::no start line", "key values mismatch") that name neither file nor setting.
async function tlsOptions(tls: { certFile: string; keyFile: string }): Promise<{ cert: string; key: string }> {
  const cert = await readTls(tls.certFile, CERT_SETTING);
  const key = await readTls(tls.keyFile, KEY_SETTING);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    throw new CodedError(
      'config_invalid',
      `${CERT_SETTING}: ${tls.certFile} is not a PEM certificate; point it at the server certificate (-----BEGIN CERTIFICATE-----, chain after it)`,
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new CodedError(
      'config_invalid',
      `${KEY_SETTING}: ${tls.keyFile} is not an unencrypted PEM private key; point it at the certificate's private key (-----BEGIN PRIVATE KEY-----)`,
    );
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new CodedError(
      'config_invalid',
      `${KEY_SETTING} (${tls.keyFile}) is not the private key of ${CERT_SETTING} (${tls.certFile}); set the key that belongs to that certificate`,
    );
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    const reason = printable(oneLine(error), 160);
    throw new CodedError(
      'config_invalid',
      `${CERT_SETTING} (${tls.certFile}) and ${KEY_SETTING} (${tls.keyFile}) are not usable for TLS (${reason}); check both PEM files`,
    );
  }
  return { cert, key };
}

const CERT_SETTING = 'DSTACK_REGISTRY_AUTH_TLS_CERT';
const KEY_SETTING = 'DSTACK_REGISTRY_AUTH_TLS_KEY';

async function readTls(path: string, setting: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new CodedError(
      'config_invalid',
      `${setting}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); point it at a readable PEM file`,
    );
  }
}
