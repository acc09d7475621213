import { mkdtemp, readdir, readFile, lstat, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';

export { HELPER_BINARY } from './helper-binary.ts';
import { HELPER_BINARY } from './helper-binary.ts';

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

// A fake host root in a temp dir: every path configure touches points inside it.
export interface FakeHost {
  root: string;
  dockerConfig: string;
  daemonJson: string;
  containerdCerts: string;
  containerdConfig: string;
  dockerCerts: string;
  registriesConf: string;
  stateDir: string;
  // The engine files' flags (what doctor reads); pathArgs adds configure's state and no reload.
  fileArgs: string[];
  pathArgs: string[];
  run(args: string[], env?: Record<string, string>, input?: string): Promise<RunResult>;
  // The same, without waiting: the process id at once, the result when it ends.
  start(args: string[], env?: Record<string, string>): { pid: number; done: Promise<RunResult> };
  snapshot(): Promise<Record<string, string>>;
  cleanup(): Promise<void>;
}

export async function fakeHost(): Promise<FakeHost> {
  const root = await mkdtemp(join(tmpdir(), 'dstack-setup-'));
  const host = {
    root,
    dockerConfig: join(root, 'root-docker'),
    daemonJson: join(root, 'etc-docker', 'daemon.json'),
    containerdCerts: join(root, 'etc-containerd', 'certs.d'),
    containerdConfig: join(root, 'etc-containerd', 'config.toml'),
    dockerCerts: join(root, 'etc-docker', 'certs.d'),
    registriesConf: join(root, 'etc-containers', 'registries.conf.d'),
    stateDir: join(root, 'state'),
  };
  // Where every engine file lives inside the fake host: shared by configure and doctor runs.
  const fileArgs = [
    '--docker-config',
    host.dockerConfig,
    '--daemon-json',
    host.daemonJson,
    '--containerd-certs-dir',
    host.containerdCerts,
    '--containerd-config',
    host.containerdConfig,
    '--docker-certs-dir',
    host.dockerCerts,
    '--registries-conf-dir',
    host.registriesConf,
  ];
  const pathArgs = [
    ...fileArgs,
    '--state-dir',
    host.stateDir,
    '--no-reload',
    '--dockerd-pidfile',
    join(root, 'no-dockerd.pid'),
  ];
  const start = (args: string[], env: Record<string, string> = {}, input?: string) => {
    const subprocess = execa(HELPER_BINARY, args, {
      reject: false,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        DOCKER_HOST: `unix://${join(root, 'no-docker.sock')}`,
        DOCKER_CREDENTIAL_DSTACK_CONFIG: join(root, 'no-config.json'),
        ...env,
      },
      extendEnv: false,
      timeout: 30_000,
      ...(input !== undefined ? { input } : {}),
    });
    const done = subprocess.then((result) => ({
      exitCode: result.exitCode ?? -1,
      stdout: String(result.stdout),
      stderr: String(result.stderr),
    }));
    return { pid: subprocess.pid ?? -1, done };
  };
  return {
    ...host,
    fileArgs,
    pathArgs,
    run: (args, env, input) => start(args, env, input).done,
    start: (args, env) => start(args, env),
    snapshot: () => snapshot(root),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

// Every file under the root (content and mode), symlinks by target: "nothing changed" means equal snapshots.
async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const key = relative(root, path);
      const info = await lstat(path);
      if (entry.isSymbolicLink()) out[key] = `-> ${await readlink(path)}`;
      else if (entry.isDirectory()) {
        out[`${key}/`] = (info.mode & 0o777).toString(8);
        await walk(path);
      } else out[key] = `${(info.mode & 0o777).toString(8)} ${await readFile(path, 'utf8')}`;
    }
  };
  await walk(root);
  return out;
}
