import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureE2ePrerequisites } from '../../helpers/ensure-packages.ts';
import { startDockerd, type Dockerd } from './dockerd.ts';
import type { Service } from '../../helpers/built-service.ts';
import { createHelperHost, type HelperHost } from './helper-env.ts';
import { configureHost, type ConfiguredPaths } from './configure-host.ts';
import type { DockerdEngine } from './engine-matrix.ts';

interface Stoppable {
  stop(): Promise<void>;
}

// A stack's scratch directory and everything started in it, stopped in reverse order (and the
// directory removed unless E2E_KEEP=1) by one stop(), also when start-up fails half-way.
export interface Scaffold {
  dir: string;
  track<T extends Stoppable>(thing: T): T;
  stop(): Promise<void>;
}

export async function createScaffold(): Promise<Scaffold> {
  ensureE2ePrerequisites();
  const dir = await mkdtemp('/tmp/e2e-');
  const started: Stoppable[] = [];
  return {
    dir,
    track(thing) {
      started.push(thing);
      return thing;
    },
    async stop() {
      for (const thing of started.reverse()) await thing.stop().catch(() => undefined);
      if (process.env.E2E_KEEP !== '1') await rm(dir, { recursive: true, force: true });
    },
  };
}

// Runs `start` inside a fresh scaffold; on failure everything it started is stopped.
export async function buildStack<T>(
  start: (scaffold: Scaffold) => Promise<T>,
): Promise<T & { dir: string; stop(): Promise<void> }> {
  const scaffold = await createScaffold();
  try {
    return { ...(await start(scaffold)), dir: scaffold.dir, stop: () => scaffold.stop() };
  } catch (error) {
    await scaffold.stop();
    throw error;
  }
}

export interface RunnerHost {
  dockerd: Dockerd;
  host: HelperHost;
  paths: ConfiguredPaths;
  instance: string;
}

// The runner host as an operator sets it up: a private engine, the helper holding an
// instance token the service minted, then the real `configure`.
export async function startRunnerHost(
  scaffold: Scaffold,
  service: Service,
  options: { instance?: string; project?: string; onError?: 'fail' | 'anonymous'; engine?: DockerdEngine },
): Promise<RunnerHost> {
  const dockerd = scaffold.track(
    await startDockerd({
      dir: join(scaffold.dir, 'd'),
      daemonJson: {},
      ...(options.engine ? { engine: options.engine } : {}),
    }),
  );
  const instance = options.instance ?? 'i-e2e-1';
  const host = await createHelperHost({
    dir: join(scaffold.dir, 'host'),
    server: service.url,
    onError: options.onError ?? 'fail',
  });
  await host.setToken(await service.issueToken({ instance, project: options.project ?? 'main' }));
  const paths = await configureHost(host, dockerd, join(scaffold.dir, 'd'));
  return { dockerd, host, paths, instance };
}
