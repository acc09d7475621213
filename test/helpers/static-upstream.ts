import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import {
  startRegistry,
  seedImage,
  dockerRegistryAvailable,
  type RegistryProcess,
  type SeededImage,
} from './registry.ts';
import { writeHtpasswd, type Account } from './htpasswd.ts';
import { startService, type Service } from './built-service.ts';
import { assertBinaryBuilt } from './helper-binary.ts';
import { SERVICE_BINARY } from './ensure-packages.ts';
import { existsSync } from 'node:fs';

// What the mirror's integration tests run against: a real `docker-registry` and the real
// service binary, on loopback, in a temp directory removed at the end.
export interface StaticUpstream {
  dir: string;
  registry: RegistryProcess;
  account: Account;
  images: Map<string, SeededImage>;
  service: Service;
  token: string;
  stop(): Promise<void>;
}

// Whether these tests can run: the registry and the built binaries. Under CI=true anything
// missing is a failure (dockerRegistryAvailable throws; the binaries are asserted).
export function mirrorTestsRunnable(): boolean {
  if (!dockerRegistryAvailable()) return false;
  if (process.env.CI === 'true') {
    assertBinaryBuilt();
    if (!existsSync(SERVICE_BINARY))
      throw new Error(`${SERVICE_BINARY} is missing: run npm run build:binary -- --host-only`);
  }
  return existsSync(SERVICE_BINARY);
}

// An htpasswd registry seeded with `refs` (repository:tag), and the service handing out its
// password (static source) as the default registry, or `password` instead when given (a
// service that holds a wrong one).
export async function startStaticUpstream(
  refs: string[],
  options: { password?: string; serviceEnv?: Record<string, string> } = {},
): Promise<StaticUpstream> {
  const dir = await mkdtemp(join(tmpdir(), 'mirror-'));
  const stops: Array<() => Promise<void>> = [];
  try {
    const account = await writeHtpasswd(join(dir, 'htpasswd'), 'mirror-user');
    const registry = await startRegistry({
      dir: join(dir, 'reg'),
      auth: { htpasswd: { realm: 'mirror-test', path: join(dir, 'htpasswd') } },
    });
    stops.push(() => registry.stop());
    const images = new Map<string, SeededImage>();
    for (const ref of refs) {
      const [repository, tag] = ref.split(':') as [string, string];
      images.set(ref, await seedImage({ registryUrl: registry.url, repository, tag, authorization: account.basic }));
    }
    const service = await startService({
      dir: join(dir, 'svc'),
      env: {
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: registry.host,
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: account.username,
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: options.password ?? account.password,
        ...options.serviceEnv,
      },
    });
    stops.push(() => service.stop());
    const token = await service.issueToken({ instance: 'i-mirror', project: 'main' });
    return {
      dir,
      registry,
      account,
      images,
      service,
      token,
      stop: async () => {
        for (const stop of stops.reverse()) await stop().catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

// A request from another local user: curl as `nobody`, status code and body.
export async function curlAs(user: string, url: string): Promise<{ status: number; body: string }> {
  const result = await execa('runuser', ['-u', user, '--', 'curl', '-s', '-w', '\n%{http_code}', url], {
    reject: false,
  });
  const lines = String(result.stdout).split('\n');
  return { status: Number(lines.pop()), body: lines.join('\n') };
}

export async function uidOf(user: string): Promise<number> {
  return Number((await execa('id', ['-u', user])).stdout.trim());
}

export const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
