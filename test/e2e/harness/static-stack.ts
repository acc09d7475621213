import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureE2ePrerequisites } from './ensure-packages.ts';
import { startDockerd, type Dockerd } from './dockerd.ts';
import { startRegistry, type RegistryProcess } from './registry.ts';
import { seedImage, type SeededImage } from './seed-image.ts';
import { startService, type Service } from './service.ts';
import { createHelperHost, type HelperHost } from './helper-env.ts';
import { configureHost, type ConfiguredPaths } from './configure-host.ts';
import { writeHtpasswd, type Account } from './htpasswd.ts';

// The static source: the default registry checks a username/password itself (htpasswd, bcrypt)
// and the service hands that password to authenticated instances at pull time. Further
// registries (open or htpasswd, optionally limited to projects) come from the service's
// DSTACK_REGISTRY_AUTH_CONFIG file.
export interface ExtraRegistrySpec {
  name: string;
  auth: 'open' | 'htpasswd';
  projects?: string[];
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

export interface StaticStackOptions {
  images?: string[];
  extraRegistries?: ExtraRegistrySpec[];
  serviceEnv?: Record<string, string>;
  instance?: string;
  project?: string;
  onError?: 'fail' | 'anonymous';
}

export async function startStaticStack(options: StaticStackOptions = {}): Promise<StaticStack> {
  ensureE2ePrerequisites();
  const dir = await mkdtemp('/tmp/e2e-');
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    for (const thing of started.reverse()) await thing.stop().catch(() => undefined);
    if (process.env.E2E_KEEP !== '1') await rm(dir, { recursive: true, force: true });
  };
  try {
    const registry = await startSeededRegistry(join(dir, 'reg'), 'registry', 'htpasswd', ['library/python:3.14', 'app:1', ...(options.images ?? [])]);
    started.push(registry.process);
    const extra = new Map<string, StackRegistry>();
    for (const spec of options.extraRegistries ?? []) {
      const started1 = await startSeededRegistry(join(dir, spec.name), spec.name, spec.auth, ['app:1']);
      started.push(started1.process);
      extra.set(spec.name, started1);
    }
    const configFile = {
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
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: registry.account!.username,
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: registry.account!.password,
        ...options.serviceEnv,
      },
      configFile,
    });
    started.push(service);
    const dockerd = await startDockerd({ dir: join(dir, 'd'), daemonJson: {} });
    started.push(dockerd);
    const instance = options.instance ?? 'i-e2e-1';
    const host = await createHelperHost({ dir: join(dir, 'host'), server: service.url, onError: options.onError ?? 'fail' });
    await host.setToken(await service.issueToken({ instance, project: options.project ?? 'main' }));
    const paths = await configureHost(host, dockerd, join(dir, 'd'));
    return { dir, registry, extra, service, dockerd, host, paths, instance, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function startSeededRegistry(dir: string, name: string, auth: 'open' | 'htpasswd', refs: string[]): Promise<StackRegistry> {
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
    images.set(ref, await seedImage({ registryUrl: process.url, repository, tag, ...(account ? { authorization: account.basic } : {}) }));
  }
  return { process, images, ...(account ? { account } : {}) };
}
