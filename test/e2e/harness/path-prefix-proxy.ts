import { createServer, request, type Server } from 'node:http';

// A stand-in for a registry served under a path (Harbor proxy-cache projects, Artifactory
// remote repositories: https://harbor.example/dockerhub-proxy/v2/…): requests under `prefix`
// go to the target registry with the prefix removed; anything else is 404, so a client that
// forgets the prefix fails. Started before its target exists (the service must know its
// host first); `setTarget` names the registry.
export interface PathPrefixProxy {
  host: string; // 127.0.0.1:PORT, also the registry key the endpoint asks credentials for
  url: string; // http://127.0.0.1:PORT/PREFIX, the upstream URL
  prefix: string;
  // "METHOD path status" for every request, as it arrived (with the prefix).
  seen: string[];
  setTarget(registryUrl: string): void;
  stop(): Promise<void>;
}

export async function startPathPrefixProxy(prefix: string): Promise<PathPrefixProxy> {
  let target: URL | undefined;
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const record = (status: number) => seen.push(`${req.method} ${path} ${status}`);
    if (!target || !(path === prefix || path.startsWith(`${prefix}/`))) {
      record(404);
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND","message":"outside the proxy prefix"}]}');
      return;
    }
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: path.slice(prefix.length) || '/', headers: { ...req.headers, host: target.host } },
      (answer) => {
        record(answer.statusCode ?? 0);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}${prefix}`,
    prefix,
    seen,
    setTarget: (registryUrl) => {
      target = new URL(registryUrl);
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
