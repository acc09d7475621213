import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CodedError } from '../../../common/errors.ts';

export interface DockerdLocator {
  pid?: number;
  pidfile?: string;
  procDir?: string;
  // The daemon.json being configured: a dockerd found by scanning /proc counts only when it reads that file.
  daemonJson?: string;
}

export const DEFAULT_DAEMON_JSON = '/etc/docker/daemon.json';

const DEFAULT_PIDFILES = ['/var/run/docker.pid', '/run/docker.pid'];

// The running dockerd: the pid given, else its pidfile, else a process named dockerd that reads
// the daemon.json being configured (so another engine on the host is never signalled).
// undefined when none runs (configure then says the mirror applies at the next start).
export async function findDockerdPid(locator: DockerdLocator): Promise<number | undefined> {
  const proc = locator.procDir ?? '/proc';
  if (locator.pid !== undefined) return (await isDockerd(proc, locator.pid)) ? locator.pid : undefined;
  const pidfiles = locator.pidfile ? [locator.pidfile] : DEFAULT_PIDFILES;
  for (const file of pidfiles) {
    const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (!(Number.isInteger(pid) && pid > 0 && (await isDockerd(proc, pid)))) continue;
    if (locator.pidfile || readsDaemonJson(await dockerdArgs(pid, proc), locator.daemonJson ?? DEFAULT_DAEMON_JSON))
      return pid;
  }
  if (locator.pidfile) return undefined;
  const entries = await readdir(proc).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (
      (await isDockerd(proc, pid)) &&
      readsDaemonJson(await dockerdArgs(pid, proc), locator.daemonJson ?? DEFAULT_DAEMON_JSON)
    )
      return pid;
  }
  return undefined;
}

function readsDaemonJson(args: string[], daemonJson: string): boolean {
  return resolve(configFileFlag(args) ?? DEFAULT_DAEMON_JSON) === resolve(daemonJson);
}

export async function dockerdArgs(pid: number, procDir = '/proc'): Promise<string[]> {
  const raw = await readFile(join(procDir, String(pid), 'cmdline'), 'utf8').catch(() => '');
  return raw.split('\0').filter((a) => a !== '');
}

async function isDockerd(proc: string, pid: number): Promise<boolean> {
  const comm = (await readFile(join(proc, String(pid), 'comm'), 'utf8').catch(() => '')).trim();
  return comm === 'dockerd';
}

// dockerd refuses to start when a setting is both a flag and a daemon.json key, so a
// `--registry-mirror` flag means we must not add registry-mirrors to the file.
export function hasRegistryMirrorFlag(args: string[]): boolean {
  return args.some((a) => a === '--registry-mirror' || a.startsWith('--registry-mirror='));
}

export function configFileFlag(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--config-file') return args[i + 1];
    if (a.startsWith('--config-file=')) return a.slice('--config-file='.length);
  }
  return undefined;
}

const SYSTEMD_UNIT_PLACES = [
  '/etc/systemd/system/docker.service',
  '/run/systemd/system/docker.service',
  '/lib/systemd/system/docker.service',
  '/usr/lib/systemd/system/docker.service',
];

// Unit files and drop-ins (docker.service.d/*.conf) whose ExecStart passes --registry-mirror:
// the daemon would not come back at its next restart if daemon.json also had the key.
export async function systemdUnitsWithMirrorFlag(places: string[] = SYSTEMD_UNIT_PLACES): Promise<string[]> {
  const files: string[] = [];
  for (const unit of places) {
    files.push(unit);
    const dropIns = await readdir(`${unit}.d`).catch(() => [] as string[]);
    for (const name of dropIns.sort()) if (name.endsWith('.conf')) files.push(join(`${unit}.d`, name));
  }
  const found: string[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const execStart = text
      .split('\n')
      .filter((line) => /^\s*ExecStart\s*=/.test(line))
      .join('\n');
    if (/--registry-mirror\b/.test(execStart)) found.push(file);
  }
  return found;
}

const ENVIRONMENT_FILES = ['/etc/default/docker', '/etc/sysconfig/docker'];

// Environment files whose options reach dockerd's command line: Debian's docker.io unit runs
// `dockerd $DOCKER_OPTS` from /etc/default/docker, RHEL-style units `$OPTIONS` from
// /etc/sysconfig/docker. A --registry-mirror there restarts the daemon with the flag too.
export async function environmentFilesWithMirrorFlag(places: string[] = ENVIRONMENT_FILES): Promise<string[]> {
  const found: string[] = [];
  for (const file of places) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const options = text
      .split('\n')
      .filter((line) => /^\s*(?:export\s+)?(?:DOCKER_OPTS|OPTIONS)\s*=/.test(line))
      .join('\n');
    if (/--registry-mirror\b/.test(options)) found.push(file);
  }
  return found;
}

export function signalReload(pid: number): void {
  try {
    process.kill(pid, 'SIGHUP');
  } catch (error) {
    throw new CodedError(
      'reload_failed',
      `cannot signal dockerd (pid ${pid}): ${(error as NodeJS.ErrnoException).code ?? 'error'}; run as root or reload it with \`systemctl reload docker\``,
    );
  }
}
