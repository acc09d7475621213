import { execa } from 'execa';
import { join } from 'node:path';
import { engineCommand, type EngineRoot } from './engine-roots.ts';

// Rootful podman with all of its state under `dir` (vfs storage, no systemd, no events
// file), from the host or from a root of the matrix; `binds` are the test directories it
// must see when it runs from a root (its own dir, the helper's, the engine files').
export function runPodman(
  options: { dir: string; env: Record<string, string>; root?: EngineRoot; binds?: string[] },
  args: string[],
) {
  const argv: [string, ...string[]] = [
    'podman',
    '--root',
    join(options.dir, 'root'),
    '--runroot',
    join(options.dir, 'run'),
    '--storage-driver',
    'vfs',
    '--cgroup-manager',
    'cgroupfs',
    '--events-backend',
    'none',
    ...args,
  ];
  const binds = [options.dir, ...(options.binds ?? [])].map((source) => ({ source }));
  return execa(...engineCommand(options.root, argv, binds), {
    env: options.env,
    extendEnv: false,
    reject: false,
    timeout: 90_000,
  });
}
