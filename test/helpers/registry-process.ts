import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { trackProcess, stopProcess, isRunning, sleep } from './reaper.ts';

// A CNCF distribution registry (`docker-registry serve`) on a loopback port, its storage and
// log under `dir`. `auth` is the YAML `auth:` section (token or htpasswd) or none (open).
export interface RegistryProcess {
  host: string; // 127.0.0.1:PORT, also the registry key
  url: string; // http://127.0.0.1:PORT
  port: number;
  pid: number;
  logPath: string;
  storageDir: string;
  log(): Promise<string>;
  stop(): Promise<void>;
}

export type RegistryAuth =
  | { htpasswd: { realm: string; path: string } }
  | { token: { realm: string; service: string; issuer: string; rootcertbundle: string } }
  // An `auth:` section as text, e.g. what `dstack-registry-auth registry-config` prints.
  | { yaml: string };

export async function startRegistry(options: {
  dir: string;
  auth?: RegistryAuth;
  port?: number;
  name?: string;
}): Promise<RegistryProcess> {
  const name = options.name ?? 'registry';
  await mkdir(options.dir, { recursive: true });
  const storageDir = join(options.dir, 'storage');
  const configPath = join(options.dir, `${name}.yml`);
  const logPath = join(options.dir, `${name}.log`);
  await writeFile(configPath, registryYaml(storageDir, options.port ?? 0, options.auth));
  const before = await readFile(logPath, 'utf8').catch(() => '');
  const logFd = openSync(logPath, 'a');
  const child = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined)
    throw new Error('startRegistry: could not start docker-registry (is the docker-registry package installed?)');
  trackProcess(pid, name);
  const deadline = Date.now() + 15_000;
  let port: number | undefined;
  while (port === undefined) {
    const log = (await readFile(logPath, 'utf8')).slice(before.length);
    const match = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
    if (match) port = Number(match[1]);
    else if (!isRunning(pid) || child.exitCode !== null || Date.now() > deadline) {
      await stopProcess(pid);
      throw new Error(
        `startRegistry: docker-registry did not start; log ${logPath}:\n${log.split('\n').slice(-15).join('\n')}`,
      );
    } else await sleep(30);
  }
  const host = `127.0.0.1:${port}`;
  return {
    host,
    url: `http://${host}`,
    port,
    pid,
    logPath,
    storageDir,
    log: async () => (await readFile(logPath, 'utf8')).slice(before.length),
    stop: () => stopProcess(pid, 5_000),
  };
}

function registryYaml(storageDir: string, port: number, auth?: RegistryAuth): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: debug',
    '  formatter: text',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: e2e-not-a-secret',
  ];
  if (auth && 'htpasswd' in auth) {
    lines.push('auth:', '  htpasswd:', `    realm: ${auth.htpasswd.realm}`, `    path: ${auth.htpasswd.path}`);
  } else if (auth && 'yaml' in auth) {
    lines.push(...authSection(auth.yaml));
  } else if (auth && 'token' in auth) {
    const t = auth.token;
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${t.realm}`,
      `    service: ${t.service}`,
      `    issuer: ${t.issuer}`,
      `    rootcertbundle: ${t.rootcertbundle}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

// The snippet may come with or without its `auth:` line and with any indentation.
function authSection(yaml: string): string[] {
  const body = yaml.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (body[0]?.trim() === 'auth:') body.shift();
  const indent = Math.min(...body.map((l) => l.length - l.trimStart().length));
  return ['auth:', ...body.map((l) => `  ${l.slice(indent)}`)];
}

// Everything the registry logged, for assertions (e.g. which requests carried what).
export function readRegistryLog(registry: RegistryProcess): string {
  return readFileSync(registry.logPath, 'utf8');
}
