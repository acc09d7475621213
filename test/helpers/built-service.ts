import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { serviceCommand } from './ensure-packages.ts';
import { trackProcess, stopProcess, isRunning, sleep } from './reaper.ts';
import type { AuditEvent } from '../../src/service/core/ports.ts';

// The built `dstack-registry-auth serve` on a loopback port, with its own data dir, audit
// log and stderr log under `dir`; the operator subcommands run against the same data dir.
export interface Service {
  url: string;
  pid: number;
  dataDir: string;
  auditLogPath: string;
  stderrPath: string;
  env: Record<string, string>;
  issueToken(options: { instance: string; project?: string; ttl?: string }): Promise<string>;
  revoke(instance: string): Promise<void>;
  registryConfig(registry: string, outDir: string): Promise<string>;
  audit(): Promise<AuditRecord[]>;
  stderr(): Promise<string>;
  stop(): Promise<void>;
}

// One line of the audit log: the service's AuditEvent plus its time.
export type AuditRecord = AuditEvent & { time?: string };

export interface ServiceOptions {
  dir: string;
  // Extra environment: DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY*, TTLs, DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE, …
  env?: Record<string, string>;
  // Written to DIR/service-config.json and named by DSTACK_REGISTRY_AUTH_CONFIG.
  configFile?: Record<string, unknown>;
  listen?: string;
  // Runs the service (and its operator commands) through this prefix, e.g. ['ip', 'netns', 'exec', NS].
  wrap?: string[];
}

const READY = /dstack-registry-auth listening on (https?:\/\/\S+)/;

export async function startService(options: ServiceOptions): Promise<Service> {
  const dataDir = join(options.dir, 'data');
  await mkdir(dataDir, { recursive: true });
  const auditLogPath = join(options.dir, 'audit.log');
  const stderrPath = join(options.dir, 'service.stderr.log');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    DSTACK_REGISTRY_AUTH_DATA_DIR: dataDir,
    DSTACK_REGISTRY_AUTH_AUDIT_LOG: auditLogPath,
    ...options.env,
  };
  if (options.configFile) {
    const configPath = join(options.dir, 'service-config.json');
    await writeFile(configPath, JSON.stringify(options.configFile, null, 2));
    env.DSTACK_REGISTRY_AUTH_CONFIG = configPath;
  }
  const before = await readFile(stderrPath, 'utf8').catch(() => '');
  const fd = openSync(stderrPath, 'a');
  const [file, ...prefix] = [...(options.wrap ?? []), ...serviceCommand()] as [string, ...string[]];
  const child = spawn(file, [...prefix, 'serve', '--listen', options.listen ?? '127.0.0.1:0', '--data-dir', dataDir], {
    stdio: ['ignore', fd, fd],
    env,
  });
  closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`startService: could not run ${file}`);
  trackProcess(pid, 'dstack-registry-auth');
  const deadline = Date.now() + 15_000;
  let url: string | undefined;
  while (url === undefined) {
    const log = (await readFile(stderrPath, 'utf8')).slice(before.length);
    const match = READY.exec(log);
    if (match) url = match[1]!.replace(/\/+$/, '');
    else if (!isRunning(pid) || child.exitCode !== null || Date.now() > deadline) {
      await stopProcess(pid, 2_000);
      throw new Error(`startService: dstack-registry-auth serve did not report "listening on"; output:\n${log}`);
    } else await sleep(30);
  }
  const serviceUrl = url;
  // Operator commands see the service's own settings, and the URL it really answers on.
  const cliEnv = { ...env, DSTACK_REGISTRY_AUTH_PUBLIC_URL: env.DSTACK_REGISTRY_AUTH_PUBLIC_URL ?? serviceUrl };
  const cli = async (args: string[]) => {
    const result = await execa(file, [...prefix, ...args], { env: cliEnv, extendEnv: false, reject: false });
    if (result.exitCode !== 0)
      throw new Error(
        `dstack-registry-auth ${args.join(' ')} failed (exit ${result.exitCode}): ${result.stderr || result.stdout}`,
      );
    return result.stdout;
  };

  return {
    url: serviceUrl,
    pid,
    dataDir,
    auditLogPath,
    stderrPath,
    env: cliEnv,
    issueToken: async ({ instance, project, ttl }) => {
      const args = ['issue-token', '--instance', instance, '--data-dir', dataDir];
      if (project !== undefined) args.push('--project', project);
      if (ttl !== undefined) args.push('--ttl', ttl);
      return (await cli(args)).trim();
    },
    revoke: async (instance) => {
      await cli(['revoke', '--instance', instance, '--data-dir', dataDir]);
    },
    registryConfig: (registry, outDir) =>
      cli(['registry-config', '--registry', registry, '--out', outDir, '--data-dir', dataDir]),
    audit: async () => parseAudit(await readFile(auditLogPath, 'utf8').catch(() => '')),
    stderr: async () => (await readFile(stderrPath, 'utf8')).slice(before.length),
    stop: () => stopProcess(pid, 5_000),
  };
}

export function parseAudit(text: string): AuditRecord[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as AuditRecord);
}

// Credential issuances (POST /v1/credentials answered with a credential).
export function credentialGrants(records: AuditRecord[]): AuditRecord[] {
  return records.filter((r) => r.event === 'credential' && r.outcome === 'granted');
}
