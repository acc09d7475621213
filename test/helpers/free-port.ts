import { createServer } from 'node:net';

// A loopback port nothing listens on at the moment (bound, then closed): where a test needs a
// port to start something on, or one that refuses connections.
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
