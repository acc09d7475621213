import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProgram } from './run-program.ts';
import { sameMirror } from '../../../registry/mirror-url.ts';
import { CodedError } from '../../../common/errors.ts';

export interface DockerInfo {
  mirrors: string[];
  driver: string;
  containerdStore: boolean;
  serverVersion: string;
  // RegistryConfig.InsecureRegistryCIDRs (127.0.0.0/8 always, plus daemon.json's), and the
  // names in IndexConfigs marked not secure.
  insecureCidrs: string[];
  insecureNames: string[];
}

// The few fields of `docker info` read here; the rest of its JSON is not ours to type.
export interface DockerInfoJson {
  ServerVersion?: unknown;
  Driver?: unknown;
  DriverStatus?: unknown;
  RegistryConfig?: { Mirrors?: unknown; InsecureRegistryCIDRs?: unknown; IndexConfigs?: unknown } | null;
}

// `docker info` as JSON, through the docker CLI and the caller's DOCKER_HOST.
export async function dockerInfo(env: Record<string, string | undefined>): Promise<DockerInfo> {
  const result = await runProgram('docker', ['info', '--format', '{{json .}}'], env);
  if (result.code === 127)
    throw new CodedError('docker_missing', 'the docker CLI is not on PATH; install it to check the daemon');
  let info: DockerInfoJson | null;
  try {
    info = JSON.parse(result.stdout);
  } catch {
    throw new CodedError('docker_info_failed', `docker info failed: ${firstLine(result.stderr || result.stdout)}`);
  }
  if (result.code !== 0 || !info || info.ServerVersion === undefined || info.ServerVersion === '') {
    throw new CodedError(
      'docker_info_failed',
      `docker info could not reach the daemon: ${firstLine(result.stderr) || 'no server answer'}`,
    );
  }
  return parseDockerInfo(info);
}

// The containerd image store shows as DriverStatus ["driver-type", "io.containerd.snapshotter.v1"]
// (Driver "overlayfs" and friends); the classic store has graph drivers (overlay2, vfs, …).
export function parseDockerInfo(info: DockerInfoJson | null | undefined): DockerInfo {
  const status: unknown[] = Array.isArray(info?.DriverStatus) ? info.DriverStatus : [];
  const snapshotter = status.some(
    (pair) => Array.isArray(pair) && String(pair[1] ?? '').includes('io.containerd.snapshotter'),
  );
  const registry = info?.RegistryConfig;
  const listed = registry?.Mirrors;
  const mirrors: unknown[] = Array.isArray(listed) ? listed : [];
  const insecure = registry?.InsecureRegistryCIDRs;
  const cidrs: unknown[] = Array.isArray(insecure) ? insecure : [];
  const configs = registry?.IndexConfigs;
  const indexes = (configs && typeof configs === 'object' ? configs : {}) as Record<string, { Secure?: unknown }>;
  return {
    insecureCidrs: cidrs.map(String),
    insecureNames: Object.entries(indexes)
      .filter(([, v]) => v?.Secure === false)
      .map(([k]) => k),
    mirrors: mirrors.map(String),
    driver: String(info?.Driver ?? ''),
    containerdStore: snapshotter,
    serverVersion: String(info?.ServerVersion ?? ''),
  };
}

// The containerd store sends mirrors no credentials: a problem only for an authenticated mirror
// named directly, not for the mirror endpoint, which authenticates upstream itself.
export function describeImageStore(info: DockerInfo, endpoint = false): string {
  if (info.containerdStore && endpoint) {
    return `dockerd uses the containerd image store (snapshotter ${info.driver}): it sends no credentials to registry mirrors, and the mirror endpoint needs none from it (it authenticates upstream with the service's credential)`;
  }
  if (info.containerdStore) {
    return `dockerd uses the containerd image store (snapshotter ${info.driver}): it sends NO credentials to registry mirrors, so an authenticated mirror only works for Docker Hub images through the reference-rewrite path (pull <mirror host>/library/<image>, for which the helper serves the mirror's own key)`;
  }
  return `dockerd uses the classic image store (storage driver ${info.driver}): it sends the Docker Hub credential the client found to the mirror`;
}

export function mirrorsInEffect(info: DockerInfo, mirrors: string[]): boolean {
  return mirrors.every((m) => info.mirrors.some((seen) => sameMirror(seen, m)));
}

export function mirrorsAbsent(info: DockerInfo, mirrors: string[]): boolean {
  return mirrors.every((m) => !info.mirrors.some((seen) => sameMirror(seen, m)));
}

// Polls docker info until the mirror list is as wanted (dockerd applies a SIGHUP reload
// asynchronously), or gives up after the timeout.
export async function waitForMirrors(
  env: Record<string, string | undefined>,
  check: (info: DockerInfo) => boolean,
  timeoutMs = 10_000,
): Promise<DockerInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await dockerInfo(env);
    if (check(info) || Date.now() > deadline) return info;
    await new Promise((r) => setTimeout(r, 200));
  }
}

// `dockerd --validate` appeared in Docker 23; older daemons (20.10 here) have no such flag.
export async function dockerdCanValidate(env: Record<string, string | undefined>): Promise<boolean> {
  const help = await runProgram('dockerd', ['--help'], env);
  return help.code === 0 && /--validate\b/.test(help.stdout + help.stderr);
}

// dockerd reads a copy in a temp directory ($TMPDIR), removed after; returns its path so the
// output can name every file configure writes.
export async function validateDaemonJson(text: string, env: Record<string, string | undefined>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dstack-validate-'));
  try {
    const file = join(dir, 'daemon.json');
    await writeFile(file, text, { mode: 0o600 });
    const result = await runProgram('dockerd', ['--validate', '--config-file', file], env);
    if (result.code !== 0) {
      throw new CodedError(
        'daemon_json_invalid',
        `dockerd --validate rejects the new daemon.json: ${firstLine(result.stderr || result.stdout)}; nothing was changed`,
      );
    }
    return file;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.slice(0, 300) ?? '';
}
