import { execa, type Result } from 'execa';
import type { Dockerd } from './dockerd.ts';
import type { HelperHost } from './helper-env.ts';

// The docker CLI as a user on the runner host runs it: against the private engine, with the
// client config and helper settings of `host` (the CLI passes its environment to the helper).
// `docker` on PATH is deliberate: machines of this kind ship a current CLI (28.x) in
// /usr/local/bin, ahead of Debian's 20.10 client, and current CLIs are what hosts run.
export function docker(
  dockerd: Dockerd,
  host: HelperHost,
  args: string[],
  env: Record<string, string> = {},
): Promise<Result> {
  return execa('docker', args, {
    env: { ...host.env, DOCKER_HOST: dockerd.host, ...env },
    extendEnv: false,
    reject: false,
    timeout: 60_000,
  });
}

// The engine's own view of an image: its ID and the label the seeder put in, or undefined.
export async function inspectImage(
  dockerd: Dockerd,
  host: HelperHost,
  image: string,
): Promise<{ id: string; seed: string } | undefined> {
  const result = await docker(dockerd, host, [
    'image',
    'inspect',
    image,
    '--format',
    '{{.Id}} {{index .Config.Labels "e2e.seed"}}',
  ]);
  if (result.exitCode !== 0) return undefined;
  const [id, seed] = String(result.stdout).trim().split(' ');
  return { id: id ?? '', seed: seed ?? '' };
}

// What a user sees on a host without debug output: the helper's debug lines still go to its
// log file, but not to the terminal, so a message check cannot pass on a debug line.
export const QUIET = { DOCKER_CREDENTIAL_DSTACK_DEBUG: '0' };

// Text of a failed command for assertion messages.
export function describeResult(result: Result): string {
  return `exit ${result.exitCode}\nstdout: ${String(result.stdout)}\nstderr: ${String(result.stderr)}`;
}
