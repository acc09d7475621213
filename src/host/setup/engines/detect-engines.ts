import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

// The engines configure knows (`--engines`); defined here so the engine probes need nothing of the plan.
export type Engine = 'docker' | 'containerd' | 'podman';
export const ENGINES: readonly Engine[] = ['docker', 'containerd', 'podman'];

const PROGRAMS: Record<Engine, string[]> = {
  docker: ['dockerd', 'docker'],
  containerd: ['containerd'],
  podman: ['podman', 'crio', 'buildah', 'skopeo'],
};

// The engines installed on this host: any of its programs on PATH (or in the usual sbin dirs).
export async function detectEngines(env: Record<string, string | undefined>): Promise<Engine[]> {
  const found: Engine[] = [];
  for (const engine of Object.keys(PROGRAMS) as Engine[]) {
    for (const program of PROGRAMS[engine]) {
      if (await findOnPath(program, env)) {
        found.push(engine);
        break;
      }
    }
  }
  return found;
}

export async function findOnPath(
  program: string,
  env: Record<string, string | undefined>,
): Promise<string | undefined> {
  const dirs = [
    ...(env.PATH ?? '').split(delimiter),
    '/usr/local/sbin',
    '/usr/local/bin',
    '/usr/sbin',
    '/usr/bin',
    '/sbin',
    '/bin',
  ].filter((d) => d !== '');
  for (const dir of [...new Set(dirs)]) {
    const path = join(dir, program);
    if (
      await access(path, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return path;
  }
  return undefined;
}
