import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { trackProcess, stopProcess, isRunning, sleep, signal } from '../../helpers/reaper.ts';
import { inRoot, type Bind } from './engine-roots.ts';
import type { DockerdEngine } from './engine-matrix.ts';

// A private Docker engine for one test file: its own socket, data root, exec root and
// daemon.json under `dir`, no bridge and no firewall rules, so the host's Docker is untouched.
export interface Dockerd {
  socket: string;
  host: string;
  pid: number;
  daemonJsonPath: string;
  // Where this dockerd reads certs.d (the test's for a dockerd from a root; the host's own
  // /etc/docker/certs.d is never written, so a test writes here whatever the engine).
  certsDir: string;
  logPath: string;
  reload(): Promise<void>;
  info(): Promise<any>;
  stop(): Promise<void>;
}

const SOCKET_PATH_LIMIT = 107;
const START_TIMEOUT_MS = 30_000;

export interface DockerdOptions {
  dir: string;
  daemonJson?: Record<string, unknown>;
  // Which dockerd of the matrix (engine-matrix.ts); the host's own when absent.
  engine?: DockerdEngine;
  // More dockerd flags (a --registry-mirror given on the command line, say).
  extraArgs?: string[];
}

export async function startDockerd(options: DockerdOptions): Promise<Dockerd> {
  const dir = options.dir;
  const socket = join(dir, 'docker.sock');
  if (Buffer.byteLength(socket) > SOCKET_PATH_LIMIT - 40) {
    // containerd's sockets live deeper under the exec root, so leave room for them too.
    throw new Error(
      `startDockerd: directory ${dir} is too long for unix sockets; use a short mkdtemp prefix under /tmp`,
    );
  }
  await mkdir(dir, { recursive: true });
  const daemonJsonPath = join(dir, 'daemon.json');
  if (options.daemonJson !== undefined || !existsSync(daemonJsonPath)) {
    await writeFile(daemonJsonPath, `${JSON.stringify(options.daemonJson ?? {}, null, 2)}\n`);
  }
  const logPath = join(dir, 'dockerd.log');
  const pidfile = join(dir, 'dockerd.pid');
  const execRoot = join(dir, 'exec');
  const args = [
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    execRoot,
    '--pidfile',
    pidfile,
    '--host',
    `unix://${socket}`,
    // The containerd store's snapshotter is named by --storage-driver; native, like vfs, works on any filesystem.
    '--storage-driver',
    options.engine?.containerdStore ? 'native' : 'vfs',
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    '--config-file',
    daemonJsonPath,
    ...(options.engine?.containerdStore ? ['--feature', 'containerd-snapshotter=true'] : []),
    ...(options.extraArgs ?? []),
  ];
  // TMPDIR inside the scratch dir: a slow stop makes containerd dump its stacks to
  // $TMPDIR/containerd.<pid>.stacks.log, which must not outlive the test.
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: dir };
  delete env.DOCKER_HOST;
  const logFd = openSync(logPath, 'a');
  const root = options.engine?.root;
  // A dockerd from a root sees `dir`/etc-docker as its /etc/docker, so the certs.d/…/hosts.toml
  // files the containerd store reads are the test's (configureHost points configure there).
  const etcDocker = join(dir, 'etc-docker');
  const certsDir = join(etcDocker, 'certs.d');
  await mkdir(certsDir, { recursive: true });
  const binds: Bind[] = [{ source: dir }, ...(root ? [{ source: etcDocker, target: '/etc/docker' }] : [])];
  const [file, argv] = root ? inRoot(root, ['dockerd', ...args], binds) : ['dockerd', args];
  const child = spawn(file, argv, { stdio: ['ignore', logFd, logFd], env });
  closeSync(logFd);
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`startDockerd: could not start dockerd: ${String(await spawnError)}`);
  trackProcess(pid, 'dockerd');

  const stop = async (): Promise<void> => {
    await stopProcess(pid, 15_000);
    killLeftoverContainerd(execRoot);
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (!isRunning(pid) || child.exitCode !== null) {
      throw new Error(`startDockerd: dockerd exited during start; log ${logPath}:\n${tail(logPath)}`);
    }
    try {
      await apiGet(socket, '/_ping');
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `startDockerd: dockerd did not answer on ${socket} within ${START_TIMEOUT_MS} ms; log ${logPath}:\n${tail(logPath)}`,
        );
      }
      await sleep(100);
    }
  }

  return {
    socket,
    host: `unix://${socket}`,
    pid,
    daemonJsonPath,
    certsDir,
    logPath,
    info: async () => JSON.parse(await apiGet(socket, '/info')),
    reload: async () => {
      const before = (await readFile(logPath, 'utf8')).length;
      signal(pid, 'SIGHUP');
      const until = Date.now() + 10_000;
      for (;;) {
        const log = (await readFile(logPath, 'utf8')).slice(before);
        if (log.includes('Reloaded configuration')) return;
        if (/Error reconfiguring|unable to configure the Docker daemon/i.test(log) || Date.now() > until) {
          throw new Error(`startDockerd: reload did not report "Reloaded configuration"; log since SIGHUP:\n${log}`);
        }
        await sleep(50);
      }
    },
    stop,
  };
}

// The Engine API over the private socket; `docker info` asks /info the same way.
function apiGet(socket: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'GET', timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve(body);
        else reject(new Error(`GET ${path}: HTTP ${res.statusCode} ${body}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

// dockerd stops its containerd on SIGTERM; after a SIGKILL fallback the child may remain.
function killLeftoverContainerd(execRoot: string): void {
  for (const pidfile of [join(execRoot, 'containerd', 'containerd.pid'), join(execRoot, 'containerd.pid')]) {
    try {
      const pid = Number(readFileSync(pidfile, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1 && isRunning(pid)) signal(pid, 'SIGKILL');
    } catch {
      // no pid file: nothing left behind
    }
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}
