import { join } from 'node:path';
import { startDockerd, type Dockerd } from './dockerd.ts';
import type { RegistryProcess } from '../../helpers/registry-process.ts';
import type { SeededImage } from '../../helpers/seed-image.ts';
import type { Service } from '../../helpers/built-service.ts';
import type { Account } from '../../helpers/htpasswd.ts';
import { createHelperHost, type HelperHost } from './helper-env.ts';
import { buildStack, type Scaffold } from './stack-scaffold.ts';
import { startStaticBackend, type StaticBackendOptions, type StackRegistry } from './static-stack.ts';
import { startTokenBackend, type TokenBackendOptions } from './token-stack.ts';
import { startMirrorEndpoint, type MirrorEndpoint } from './mirror-endpoint.ts';
import { pointEnginesAtMirror, type EngineMirrorFiles } from './engine-mirror-files.ts';
import type { DockerdEngine } from './engine-matrix.ts';

// A runner host whose engines pull Docker Hub images through the host-local mirror endpoint:
// the registry and service of the static (htpasswd) or issuer (auth: token) path, a private
// dockerd, the helper's settings with an instance token (no `configure`, no credHelpers), the
// endpoint forwarding to the registry, and the engines' mirror files naming the endpoint.
export interface MirrorStack {
  dir: string;
  source: 'static' | 'issuer';
  registry: RegistryProcess;
  // The htpasswd account of the static path's registry.
  account?: Account;
  images: Map<string, SeededImage>;
  extra: Map<string, StackRegistry>;
  service: Service;
  dockerd: Dockerd;
  host: HelperHost;
  instance: string;
  endpoint: MirrorEndpoint;
  engineFiles: EngineMirrorFiles;
  // A further endpoint of this host (other upstreams or flags), stopped with the stack.
  startEndpoint(args: string[], name: string): Promise<MirrorEndpoint>;
  // Stops the endpoint and starts a fresh process (nothing in memory) with the same
  // arguments on the same port, so the engines' files still name it.
  restartEndpoint(): Promise<MirrorEndpoint>;
  stop(): Promise<void>;
}

export type MirrorStackOptions = (
  | ({ source: 'static' } & StaticBackendOptions)
  | ({ source: 'issuer' } & TokenBackendOptions)
) & {
  // Arguments after `mirror --listen …`; default `--upstream <the registry's URL>`.
  endpointArgs?: (registry: RegistryProcess) => string[];
  instance?: string;
  project?: string;
  // The dockerd of the matrix (engine-matrix.ts); the host's when absent.
  engine?: DockerdEngine;
};

export async function startMirrorStack(options: MirrorStackOptions): Promise<MirrorStack> {
  return buildStack(async (scaffold) => {
    const backend = await startBackend(scaffold, options);
    const dockerd = scaffold.track(
      await startDockerd({
        dir: join(scaffold.dir, 'd'),
        daemonJson: {},
        ...(options.engine ? { engine: options.engine } : {}),
      }),
    );
    const instance = options.instance ?? 'i-e2e-1';
    const host = await createHelperHost({ dir: join(scaffold.dir, 'host'), server: backend.service.url });
    await host.setToken(await backend.service.issueToken({ instance, project: options.project ?? 'main' }));
    const endpointArgs = options.endpointArgs?.(backend.registry) ?? ['--upstream', backend.registry.url];
    const startEndpoint = async (args: string[], name: string, port?: number) =>
      scaffold.track(
        await startMirrorEndpoint({
          dir: join(scaffold.dir, 'mirror'),
          helper: host,
          args,
          name,
          ...(port ? { port } : {}),
        }),
      );
    const endpoint = await startEndpoint(endpointArgs, 'mirror');
    const engineFiles = await pointEnginesAtMirror(dockerd, join(scaffold.dir, 'd'), endpoint.url);
    const stack = {
      ...backend,
      source: options.source,
      dockerd,
      host,
      instance,
      endpoint,
      engineFiles,
      startEndpoint,
      restartEndpoint: async () => {
        await stack.endpoint.stop();
        stack.endpoint = await startEndpoint(endpointArgs, 'mirror', stack.endpoint.port);
        return stack.endpoint;
      },
    };
    return stack;
  });
}

async function startBackend(scaffold: Scaffold, options: MirrorStackOptions) {
  if (options.source === 'static') {
    const backend = await startStaticBackend(scaffold, options);
    const { process: registry, images, account } = backend.registry;
    return { registry, images, extra: backend.extra, service: backend.service, ...(account ? { account } : {}) };
  }
  const backend = await startTokenBackend(scaffold, options);
  return {
    registry: backend.registry,
    images: backend.images,
    extra: new Map<string, StackRegistry>(),
    service: backend.service,
  };
}
