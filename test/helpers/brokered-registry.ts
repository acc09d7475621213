import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { seedImage, startRegistry, type RegistryProcess, type SeededImage } from './registry.ts';
import { startTokenServer, type TokenServer, type TokenServerOptions } from '../fixtures/token-server/token-server.ts';

// A registry whose token realm is someone else's: the independent token server fixture (not
// our service) and a real docker-registry 2.8 with `auth: token` trusting the fixture's
// certificate. Images are seeded through an open registry on the same storage first.
export interface BrokeredRegistry {
  registry: RegistryProcess;
  tokenServer: TokenServer;
  images: Map<string, SeededImage>;
  username: string;
  password: string;
  tokenLogPath: string;
  stop(): Promise<void>;
}

export const FIXTURE_SERVICE = 'fixture-registry';
export const FIXTURE_ISSUER = 'fixture-token-server';

// The token server's host:port: the realm the registry names is on another port than the
// registry, so the service must list it (the registry's `realms`, src/registry/realm-binding.ts).
export function realmHostOf(upstream: BrokeredRegistry): string {
  return new URL(upstream.tokenServer.realm).host;
}

export async function startBrokeredRegistry(options: {
  dir: string;
  images: string[];
  port?: number;
  tokenServer?: Partial<TokenServerOptions>;
}): Promise<BrokeredRegistry> {
  const username = 'fleet-bot';
  // Random per run, so a grep for it cannot match by accident.
  const password = `fixture-pw-${randomBytes(12).toString('hex')}`;
  const tokenLogPath = join(options.dir, 'token-server.log');
  const tokenServer = await startTokenServer({
    users: { [username]: password },
    service: FIXTURE_SERVICE,
    issuer: FIXTURE_ISSUER,
    logPath: tokenLogPath,
    ...options.tokenServer,
  });
  const stops: (() => Promise<void>)[] = [() => tokenServer.close()];
  try {
    const seeding = await startRegistry({
      dir: join(options.dir, 'registry'),
      name: 'seed',
      ...(options.port !== undefined ? { port: options.port } : {}),
    });
    stops.unshift(() => seeding.stop());
    const images = new Map<string, SeededImage>();
    for (const ref of options.images) {
      const [repository, tag] = ref.split(':') as [string, string];
      images.set(ref, await seedImage({ registryUrl: seeding.url, repository, tag }));
    }
    await seeding.stop();
    stops.shift();
    const bundle = join(options.dir, 'token-server-cert.pem');
    await writeFile(bundle, tokenServer.certificatePem);
    const registry = await startRegistry({
      dir: join(options.dir, 'registry'),
      name: 'brokered',
      port: seeding.port,
      auth: {
        token: { realm: tokenServer.realm, service: FIXTURE_SERVICE, issuer: FIXTURE_ISSUER, rootcertbundle: bundle },
      },
    });
    stops.unshift(() => registry.stop());
    return { registry, tokenServer, images, username, password, tokenLogPath, stop: () => stopAll(stops) };
  } catch (error) {
    await stopAll(stops);
    throw error;
  }
}

// The Docker Hub case as an operator with only a Docker Hub account sets it: that account
// (no default registry), source broker, the endpoint on, and Docker Hub's API URL pointed at
// the fixture registry, which a test machine can reach.
export function dockerHubBrokerEnv(upstream: BrokeredRegistry): Record<string, string> {
  return {
    DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: upstream.username,
    DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: upstream.password,
    DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'broker',
    DSTACK_REGISTRY_AUTH_DEFAULT_UPSTREAM_URL: upstream.registry.url,
    DSTACK_REGISTRY_AUTH_MIRROR_ENDPOINT: 'on',
    DSTACK_REGISTRY_AUTH_DEFAULT_REALMS: realmHostOf(upstream),
  };
}

async function stopAll(stops: (() => Promise<void>)[]): Promise<void> {
  for (const stop of stops) await stop().catch(() => undefined);
}
