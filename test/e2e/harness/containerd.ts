import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { inRoot, type EngineRoot } from './engine-roots.ts';
import { isRunning, sleep, stopProcess, trackProcess } from '../../helpers/reaper.ts';

// A standalone containerd of a matrix root with its CRI plugin, as the kubelet's node runs it,
// started from a config.toml the test chose (the package's own, or `containerd config
// default`) with only its paths moved under `dir`: root, state, sockets, the opt plugin.
export interface Containerd {
  dir: string;
  socket: string;
  configPath: string;
  logPath: string;
  pid: number;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;

// The config files a node may have: the Debian package's (version 2) and upstream's default
// (version 3, `containerd config default`), read from the root itself.
export function packagedConfig(root: EngineRoot): string {
  return readFileSync(join(root.dir, 'etc/containerd/config.toml'), 'utf8');
}

export async function defaultConfig(root: EngineRoot): Promise<string> {
  const [file, args] = inRoot(root, ['containerd', 'config', 'default']);
  const { stdout } = await execa(file, args, { timeout: 30_000 });
  return `${stdout}\n`;
}

// Moves the paths of a config under `dir`, keeping everything else byte for byte.
export function relocate(config: string, dir: string): string {
  const q = (path: string) => `'${path}'`;
  let text = config;
  const top = [`root = ${q(join(dir, 'root'))}`, `state = ${q(join(dir, 'state'))}`];
  text = text.replace(/^root = .*\n/m, '').replace(/^state = .*\n/m, '');
  text = text.replace(/^(version = \d+\n)/m, `$1${top.join('\n')}\n`);
  // The grpc socket: the table's address, or a [grpc] table added at the end.
  if (/^\[grpc\]\n(?:.*\n)*?\s*address = .*$/m.test(text)) {
    text = text.replace(/^(\[grpc\]\n(?:.*\n)*?\s*address = ).*$/m, `$1${q(join(dir, 'containerd.sock'))}`);
  } else {
    text += `\n[grpc]\n  address = ${q(join(dir, 'containerd.sock'))}\n`;
  }
  text = text.replace(
    /^(\s*\[plugins\.["']io\.containerd\.internal\.v1\.opt["']\]\n\s*path = ).*$/m,
    `$1${q(join(dir, 'opt'))}`,
  );
  return text;
}

// `binds`: further host directories it must see (a hosts directory the config names).
export async function startContainerd(options: {
  dir: string;
  root: EngineRoot;
  config: string;
  binds?: string[];
}): Promise<Containerd> {
  const { dir, root } = options;
  await mkdir(dir, { recursive: true });
  const configPath = join(dir, 'config.toml');
  await writeFile(configPath, options.config);
  const socket = join(dir, 'containerd.sock');
  const logPath = join(dir, 'containerd.log');
  const logFd = openSync(logPath, 'a');
  const [file, args] = inRoot(
    root,
    ['containerd', '--config', configPath],
    [dir, ...(options.binds ?? [])].map((source) => ({ source })),
  );
  const child = spawn(file, args, {
    stdio: ['ignore', logFd, logFd],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: dir },
  });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error('startContainerd: could not start containerd');
  trackProcess(pid, 'containerd');
  const stop = () => stopProcess(pid, 15_000);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await answers(socket))) {
    if (!isRunning(pid) || child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(
        `startContainerd: containerd did not come up on ${socket}; log ${logPath}:\n${readFileSync(logPath, 'utf8').split('\n').slice(-20).join('\n')}`,
      );
    }
    await sleep(100);
  }
  return { dir, socket, configPath, logPath, pid, stop };
}

function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const connection = connect(socket, () => {
      connection.destroy();
      resolve(true);
    });
    connection.on('error', () => resolve(false));
  });
}
