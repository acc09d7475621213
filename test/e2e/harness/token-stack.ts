import { join } from 'node:path';
import type { Dockerd } from './dockerd.ts';
import { startRegistry, type RegistryProcess } from '../../helpers/registry-process.ts';
import { seedImage, type SeededImage } from '../../helpers/seed-image.ts';
import { startService, type Service } from '../../helpers/built-service.ts';
import type { HelperHost } from './helper-env.ts';
import type { ConfiguredPaths } from './configure-host.ts';
import { buildStack, startRunnerHost, type Scaffold } from './stack-scaffold.ts';
import type { DockerdEngine } from './engine-matrix.ts';

// The mission's main path, assembled the way an operator would: a registry that is the
// Docker Hub mirror and trusts our service as its token realm (`auth: token` from
// `registry-config`), the service serving it with the issuer source as the default registry,
// and a runner host (private dockerd + helper) set up by the real `configure`.
export interface TokenStack {
  dir: string;
  registry: RegistryProcess;
  service: Service;
  dockerd: Dockerd;
  host: HelperHost;
  paths: ConfiguredPaths;
  images: Map<string, SeededImage>;
  registryAuthYaml: string;
  instance: string;
  stop(): Promise<void>;
}

export interface TokenBackendOptions {
  // repository:tag pairs seeded before token auth is switched on (library/python:3.14 always).
  images?: string[];
  serviceEnv?: Record<string, string>;
}

export interface TokenStackOptions extends TokenBackendOptions {
  instance?: string;
  project?: string;
  onError?: 'fail' | 'anonymous';
  // The dockerd of the matrix (engine-matrix.ts); the host's when absent.
  engine?: DockerdEngine;
}

export interface TokenBackend {
  registry: RegistryProcess;
  service: Service;
  images: Map<string, SeededImage>;
  registryAuthYaml: string;
}

export async function startTokenStack(options: TokenStackOptions = {}): Promise<TokenStack> {
  return buildStack(async (scaffold) => {
    const backend = await startTokenBackend(scaffold, options);
    // 4. The runner host: private engine, helper with an instance token, then `configure`.
    const runner = await startRunnerHost(scaffold, backend.service, options);
    return { ...backend, ...runner };
  });
}

// Steps 1–3: the seeded token-auth registry and the service that is its realm, no runner host.
export async function startTokenBackend(scaffold: Scaffold, options: TokenBackendOptions = {}): Promise<TokenBackend> {
  const { dir } = scaffold;
  // 1. Seed through an open registry on the storage the token registry will serve.
  const seeding = await startRegistry({ dir: join(dir, 'reg'), name: 'seed' });
  const images = new Map<string, SeededImage>();
  for (const ref of ['library/python:3.14', 'python:3.14', ...(options.images ?? [])]) {
    const [repository, tag] = ref.split(':') as [string, string];
    images.set(ref, await seedImage({ registryUrl: seeding.url, repository, tag }));
  }
  await seeding.stop();
  const registryKey = seeding.host;

  // 2. The service: the registry is the default registry, served by the issuer source.
  const service = await startService({
    dir: join(dir, 'svc'),
    env: {
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: registryKey,
      DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'issuer',
      ...options.serviceEnv,
    },
  });
  scaffold.track(service);

  // 3. The registry, same port and storage, now with the auth section registry-config prints.
  const registryAuthYaml = await service.registryConfig(registryKey, join(dir, 'reg-auth'));
  const registry = scaffold.track(
    await startRegistry({
      dir: join(dir, 'reg'),
      port: seeding.port,
      auth: { yaml: registryAuthYaml },
      name: 'registry',
    }),
  );
  return { registry, service, images, registryAuthYaml };
}
