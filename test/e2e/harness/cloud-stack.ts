import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry, type RegistryProcess } from '../../helpers/registry-process.ts';
import { seedImage, type SeededImage } from '../../helpers/seed-image.ts';
import { startService, type Service } from '../../helpers/built-service.ts';
import { writeHtpasswd, type Account } from '../../helpers/htpasswd.ts';
import { buildStack, startRunnerHost, type RunnerHost } from './stack-scaffold.ts';
import { startMirrorEndpoint, type MirrorEndpoint } from './mirror-endpoint.ts';
import { pointEnginesAtMirror } from './engine-mirror-files.ts';

// A cloud source end to end (docs/cloud-registries.md): a vendor stand-in (test/fixtures/cloud/)
// mints a registry credential for the service's cloud identity, and a real docker-registry
// accepts exactly that credential (an htpasswd entry for the minted username and password).
// The runner host is configured as an operator would (`configure`), and runs the mirror
// endpoint in front of the registry for the Engine API pulls dstack-shim makes.
export interface Vendor {
  // The service's environment: the vendor SDK's own variables (keys, endpoint overrides).
  serviceEnv: Record<string, string>;
  // The config file's registries: the one at `registry` first, then any the test adds.
  entries(registry: RegistryProcess): Record<string, unknown>[];
  // Every cloud secret of the server side, which no host file, log or answer may hold.
  secrets: string[];
  // The registry password the stand-in mints, when it picks its own (ACR's refresh token).
  password?: string;
}

export interface CloudStackOptions {
  // The username the vendor's credential goes with (AWS, oauth2accesstoken, the null GUID).
  username: string;
  // Starts the vendor stand-in minting `password` (or one of its own); stopped with the stack.
  vendor(password: string): Promise<Vendor & { close(): Promise<void> }>;
  // repository:tag pairs seeded into the registry.
  images: string[];
  // `mirror --listen …` arguments for the endpoint, from the registry.
  endpointArgs(registry: RegistryProcess): string[];
}

export interface CloudStack extends RunnerHost {
  dir: string;
  registry: RegistryProcess;
  account: Account;
  images: Map<string, SeededImage>;
  vendor: Vendor;
  service: Service;
  endpoint: MirrorEndpoint;
  stop(): Promise<void>;
}

export function startCloudStack(options: CloudStackOptions): Promise<CloudStack> {
  return buildStack(async (scaffold) => {
    const regDir = join(scaffold.dir, 'reg');
    await mkdir(regDir, { recursive: true });
    const proposed = `pw-${randomBytes(12).toString('hex')}`;
    const vendor = await options.vendor(proposed);
    scaffold.track({ stop: () => vendor.close() });
    const account = await writeHtpasswd(join(regDir, 'htpasswd'), options.username, {
      password: vendor.password ?? proposed,
    });
    const registry = scaffold.track(
      await startRegistry({
        dir: regDir,
        auth: { htpasswd: { realm: 'cloud-realm', path: join(regDir, 'htpasswd') } },
      }),
    );
    const images = new Map<string, SeededImage>();
    for (const ref of options.images) {
      const [repository, tag] = ref.split(':') as [string, string];
      images.set(ref, await seedImage({ registryUrl: registry.url, repository, tag, authorization: account.basic }));
    }
    const service = scaffold.track(
      await startService({
        dir: join(scaffold.dir, 'svc'),
        env: vendor.serviceEnv,
        configFile: { registries: vendor.entries(registry) },
      }),
    );
    const runner = await startRunnerHost(scaffold, service, {});
    const endpoint = scaffold.track(
      await startMirrorEndpoint({
        dir: join(scaffold.dir, 'mirror'),
        helper: runner.host,
        args: options.endpointArgs(registry),
      }),
    );
    await pointEnginesAtMirror(runner.dockerd, join(scaffold.dir, 'd'), endpoint.url);
    return { ...runner, registry, account, images, vendor, service, endpoint };
  });
}
