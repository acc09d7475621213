import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A small stand-in for someone else's registry or token realm, for behaviour a real
// docker-registry does not show on demand (redirects to object storage, 5xx, a slow body,
// a realm that only takes POST). Records every request; `handle` answers it.
export interface FixtureRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
  closedEarly: boolean;
}

export interface FixtureUpstream {
  url: string;
  requests: FixtureRequest[];
  close(): Promise<void>;
}

export async function startFixtureUpstream(
  handle: (req: IncomingMessage, res: ServerResponse, record: FixtureRequest) => void | Promise<void>,
): Promise<FixtureUpstream> {
  const requests: FixtureRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const record: FixtureRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body: Buffer.concat(chunks).toString('utf8'),
        closedEarly: false,
      };
      requests.push(record);
      res.on('close', () => {
        if (!res.writableFinished) record.closedEarly = true;
      });
      Promise.resolve(handle(req, res, record)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
