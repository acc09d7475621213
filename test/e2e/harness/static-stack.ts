import { join } from 'node:path';
import type { Dockerd } from './dockerd.ts';
import { startRegistry, type RegistryProcess } from '../../helpers/registry-process.ts';
import { seedImage, type SeededImage } from '../../helpers/seed-image.ts';
import { startService, type Service } from '../../helpers/built-service.ts';
import type { HelperHost } from './helper-env.ts';
import type { ConfiguredPaths } from './configure-host.ts';
import { buildStack, startRunnerHost, type Scaffold } from './stack-scaffold.ts';
import { writeHtpasswd, type Account } from '../../helpers/htpasswd.ts';
import type { DockerdEngine } from './engine-matrix.ts';

// The static source: the default registry checks a username/password itself (htpasswd, bcrypt)
// and the service hands that password to authenticated instances at pull time. Further
// registries (open or htpasswd, optionally limited to projects) come from the service's
// DSTACK_REGISTRY_AUTH_CONFIG file.
export interface ExtraRegistrySpec {
  name: string;
  auth: 'open' | 'htpasswd';
  projects?: string[];
  // repository:tag pairs seeded into it (default app:1).
  images?: string[];
}

export interface StackRegistry {
  process: RegistryProcess;
  account?: Account;
  images: Map<string, SeededImage>;
}

export interface StaticStack {
  dir: string;
  registry: StackRegistry;
  extra: Map<string, StackRegistry>;
  service: Service;
  dockerd: Dockerd;
  host: HelperHost;
  paths: ConfiguredPaths;
  instance: string;
  stop(): Promise<void>;
}

export interface StaticBackendOptions {
  images?: string[];
  extraRegistries?: ExtraRegistrySpec[];
  serviceEnv?: Record<string, string>;
  // Further top-level keys of the service's config file (such as `kubernetes`).
  serviceConfig?: Record<string, unknown>;
}

export interface StaticStackOptions extends StaticBackendOptions {
  instance?: string;
  project?: string;
  onError?: 'fail' | 'anonymous';
  // The dockerd of the matrix (engine-matrix.ts); the host's when absent.
  engine?: DockerdEngine;
}

export interface StaticBackend {
  registry: StackRegistry;
  extra: Map<string, StackRegistry>;
  service: Service;
}

export async function startStaticStack(options: StaticStackOptions = {}): Promise<StaticStack> {
  return buildStack(async (scaffold) => {
    const backend = await startStaticBackend(scaffold, options);
    const runner = await startRunnerHost(scaffold, backend.service, options);
    return { ...backend, ...runner };
  });
}

// The registries and the service of the static path, without a runner host.
export async function startStaticBackend(
  scaffold: Scaffold,
  options: StaticBackendOptions = {},
): Promise<StaticBackend> {
  const { dir } = scaffold;
  const registry = await startSeededRegistry(join(dir, 'reg'), 'registry', 'htpasswd', [
    'library/python:3.14',
    'app:1',
    ...(options.images ?? []),
  ]);
  scaffold.track(registry.process);
  const extra = new Map<string, StackRegistry>();
  for (const spec of options.extraRegistries ?? []) {
    const started1 = await startSeededRegistry(join(dir, spec.name), spec.name, spec.auth, spec.images ?? ['app:1']);
    scaffold.track(started1.process);
    extra.set(spec.name, started1);
  }
  const account = registry.account!;
  const configFile = {
    ...options.serviceConfig,
    registries: (options.extraRegistries ?? []).map((spec) => {
      const r = extra.get(spec.name)!;
      return {
        registry: r.process.host,
        source: 'static',
        username: r.account?.username ?? 'nobody',
        password: r.account?.password ?? 'open-registry-needs-no-password',
        ...(spec.projects ? { projects: spec.projects } : {}),
      };
    }),
  };
  const service = await startService({
    dir: join(dir, 'svc'),
    env: {
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: registry.process.host,
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: account.username,
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: account.password,
      ...options.serviceEnv,
    },
    configFile,
  });
  scaffold.track(service);
  return { registry, extra, service };
}

async function startSeededRegistry(
  dir: string,
  name: string,
  auth: 'open' | 'htpasswd',
  refs: string[],
): Promise<StackRegistry> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  const account = auth === 'htpasswd' ? await writeHtpasswd(join(dir, 'htpasswd'), `${name}-user`) : undefined;
  const process = await startRegistry({
    dir,
    name,
    ...(account ? { auth: { htpasswd: { realm: `${name}-realm`, path: join(dir, 'htpasswd') } } } : {}),
  });
  const images = new Map<string, SeededImage>();
  for (const ref of refs) {
    const [repository, tag] = ref.split(':') as [string, string];
    images.set(
      ref,
      await seedImage({
        registryUrl: process.url,
        repository,
        tag,
        ...(account ? { authorization: account.basic } : {}),
      }),
    );
  }
  return { process, images, ...(account ? { account } : {}) };
}
