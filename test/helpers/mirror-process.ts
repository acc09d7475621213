import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { HELPER_BINARY } from './helper-binary.ts';
import { isRunning, sleep, stopProcess, trackProcess } from './reaper.ts';

// The built `docker-credential-dstack mirror`, run as a host runs it: the helper's settings in
// the environment (nothing inherited), stderr in a file the test reads, stopped by PID.
export interface MirrorProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  log(): Promise<string>;
  stop(): Promise<void>;
}

export interface MirrorHome {
  dir: string;
  tokenFile: string;
  cacheDir: string;
  logFile: string;
  env: Record<string, string>;
}

// Settings for a mirror talking to `server`, all under `dir`.
export async function mirrorHome(dir: string, server: string, token: string): Promise<MirrorHome> {
  await mkdir(dir, { recursive: true });
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'config.json'), '{}\n');
  const home = { dir, tokenFile, cacheDir: join(dir, 'cache'), logFile: join(dir, 'mirror.log') };
  return {
    ...home,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      DOCKER_CREDENTIAL_DSTACK_SERVER: server,
      DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: tokenFile,
      DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: home.cacheDir,
      DOCKER_CREDENTIAL_DSTACK_CONFIG: join(dir, 'config.json'),
      DOCKER_CREDENTIAL_DSTACK_LOG_FILE: home.logFile,
    },
  };
}

const READY = /listening on (https?:\/\/\S+?);/;

// `launcher`: a command that execs the binary in its own place (same PID), e.g.
// ['prlimit', '--nofile=256:256'] to run the endpoint with few descriptors.
export async function startMirror(
  home: MirrorHome,
  args: string[],
  options: { env?: Record<string, string>; stdio?: StdioOptions; name?: string; launcher?: string[] } = {},
): Promise<MirrorProcess> {
  const stderrPath = join(home.dir, `${options.name ?? 'mirror'}.stderr`);
  const fd = openSync(stderrPath, 'a');
  const before = (await readFile(stderrPath, 'utf8').catch(() => '')).length;
  const [file, ...command] = [...(options.launcher ?? []), HELPER_BINARY, 'mirror', ...args];
  const child = spawn(file!, command, {
    env: { ...home.env, ...options.env },
    stdio: options.stdio ?? ['ignore', fd, fd],
  });
  closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) throw new Error('startMirror: could not run the helper binary');
  trackProcess(pid, 'mirror');
  const log = async () => (await readFile(stderrPath, 'utf8')).slice(before);
  const deadline = Date.now() + 15_000;
  let url: string | undefined;
  while (url === undefined) {
    const text = await log();
    const match = READY.exec(text);
    if (match) url = match[1]!;
    else if (!isRunning(pid) || child.exitCode !== null || Date.now() > deadline) {
      await stopProcess(pid, 2_000);
      throw new Error(`startMirror: no "listening on" line; output:\n${text}`);
    } else await sleep(20);
  }
  return { url, pid, child, log, stop: () => stopProcess(pid, 12_000) };
}

// The log once it matches `pattern` (log lines are written when a response closes, which
// may be a moment after the client has the body), or the last text after 10 s.
export async function logMatching(mirror: Pick<MirrorProcess, 'log'>, pattern: RegExp | string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = await mirror.log();
    if ((typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)) || Date.now() > deadline)
      return text;
    await sleep(20);
  }
}

export async function expectLog(mirror: Pick<MirrorProcess, 'log'>, pattern: RegExp | string): Promise<void> {
  const text = await logMatching(mirror, pattern);
  if (typeof pattern === 'string' ? !text.includes(pattern) : !pattern.test(text))
    throw new Error(`the mirror's log lacks ${String(pattern)}:\n${text}`);
}

// The exit status of a child, once it has exited.
export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
