import { createServer } from 'node:net';
import type { FakeHost } from './setup-fixture.ts';

// doctor's paths inside the fake host, so that it never reads the machine's own engine files.
export function doctorArgs(host: FakeHost, engines: string): string[] {
  return ['--docker-config', host.dockerConfig, '--daemon-json', host.daemonJson, '--containerd-certs-dir', host.containerdCerts, '--registries-conf-dir', host.registriesConf, '--engines', engines];
}

// A loopback port nothing listens on (bound, then closed).
export async function closedLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
