import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll } from 'vitest';
import { startDockerd, type Dockerd } from './dockerd.ts';
import { ensureE2ePrerequisites, HELPER_BINARY } from '../../helpers/ensure-packages.ts';
import type { DockerdEngine } from './engine-matrix.ts';

// A private dockerd for one describe block whose daemon.json holds exactly `daemonJson`
// (bytes as given, then a reload), so configure/unconfigure can be checked byte for byte.
// Call inside describe(): it registers the beforeAll/afterAll that start and remove it.
export interface DockerdWithDaemonJson {
  readonly dir: string;
  readonly dockerd: Dockerd;
  // The helper binary with only PATH and DOCKER_HOST (this dockerd) in its environment.
  run(args: string[]): ReturnType<typeof runHelper>;
  // --state-dir and --dockerd-pidfile under this set-up's directory.
  common(): string[];
}

export function useDockerdWithDaemonJson(options: {
  prefix: string;
  daemonJson: string;
  engine?: DockerdEngine;
}): DockerdWithDaemonJson {
  let dir: string | undefined;
  let dockerd: Dockerd | undefined;
  beforeAll(async () => {
    ensureE2ePrerequisites();
    dir = await mkdtemp(options.prefix);
    dockerd = await startDockerd({ dir, ...(options.engine ? { engine: options.engine } : {}) });
    await writeFile(dockerd.daemonJsonPath, options.daemonJson);
    await dockerd.reload();
  });
  afterAll(async () => {
    await dockerd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined)
      throw new Error('useDockerdWithDaemonJson: the dockerd is not started yet (use it inside a test)');
    return value;
  };
  return {
    get dir() {
      return started(dir);
    },
    get dockerd() {
      return started(dockerd);
    },
    run: (args) => runHelper(started(dockerd).host, args),
    common: () => ['--state-dir', join(started(dir), 'state'), '--dockerd-pidfile', join(started(dir), 'dockerd.pid')],
  };
}

function runHelper(dockerHost: string, args: string[]) {
  return execa(HELPER_BINARY, args, {
    reject: false,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DOCKER_HOST: dockerHost },
    extendEnv: false,
    timeout: 60_000,
  });
}
