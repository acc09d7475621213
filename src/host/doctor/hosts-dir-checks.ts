import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sameMirror } from '../../registry/mirror-url.ts';
import { CRI_REGISTRY_TABLE, criHostsDirs, readCriRegistry } from '../setup/engine-files/containerd-config.ts';
import { containerdVersion } from '../setup/engines/containerd-version.ts';
import { readTomlTables } from '../setup/formats/toml-read.ts';
import type { CheckResult, DoctorContext } from './doctor-check.ts';

const CONFIGURE = 'run docker-credential-dstack configure';

// The hosts a certs.d/docker.io/hosts.toml lists, in the order containerd tries them.
export async function hostsTomlHosts(path: string): Promise<string[] | undefined> {
  const text = await readText(path);
  if (text === undefined) return undefined;
  return readTomlTables(text, path)
    .filter((t) => t.path.length === 2 && t.path[0] === 'host')
    .map((t) => t.path[1]!);
}

// dockerd's containerd image store reads /etc/docker/certs.d/docker.io/hosts.toml, and a file
// there replaces registry-mirrors entirely: one naming another mirror sends every Docker Hub
// pull there (the endpoint is never asked) while daemon.json and docker info look right. The
// classic store ignores it; configure writes it so that a later switch of store keeps the mirror.
export async function dockerCertsNames(ctx: DoctorContext, expected: string[]): Promise<CheckResult> {
  const name = 'docker certs.d hosts.toml';
  const path = join(ctx.options.dockerCertsDir, 'docker.io', 'hosts.toml');
  const hosts = await hostsTomlHosts(path);
  if (hosts === undefined)
    return { status: 'ok', name, detail: `${path} is absent: dockerd uses registry-mirrors on either image store` };
  return hostsVerdict(
    name,
    path,
    hosts,
    expected,
    'on the containerd image store it replaces registry-mirrors, so Docker Hub pulls go',
  );
}

// containerd's CRI (the kubelet's pulls) reads certs.d only from the directories config_path
// names in config.toml, under the key of the file's own version; without it, CRI pulls go
// straight to Docker Hub while certs.d/docker.io/hosts.toml names the mirror.
export async function containerdCriNames(ctx: DoctorContext, expected: string[]): Promise<CheckResult> {
  const name = 'containerd CRI';
  const path = ctx.options.containerdConfig;
  const restart = 'then systemctl restart containerd';
  const cri = readCriRegistry(await readText(path), path);
  if (cri.criDisabled)
    return { status: 'skip', name, detail: `CRI is disabled in ${path} (disabled_plugins): nothing pulls through it` };
  const version = await containerdVersion(ctx.env);
  const dirs = criHostsDirs(cri, version);
  const running = version ? `containerd ${version.text}` : 'containerd of unknown version';
  if (dirs.length === 0) {
    const key = cri.version ? `[${CRI_REGISTRY_TABLE[cri.version].join('.')}] config_path` : 'config_path';
    const why = cri.legacyMirrors
      ? 'it uses the deprecated registry mirrors instead'
      : cri.configPath === ''
        ? `${key} is empty`
        : cri.version
          ? `${key} is not set`
          : 'the file is absent or empty';
    const ignored = cri.ignoredV2Key
      ? ` (its [${CRI_REGISTRY_TABLE[2].join('.')}] config_path is ignored in a version 3 config)`
      : '';
    return {
      status: 'fail',
      name,
      detail: `${path}: ${why}${ignored}, so CRI (${running}) reads no hosts.toml and its pulls go straight to Docker Hub`,
      fix: `${CONFIGURE} (it sets config_path), ${restart}`,
    };
  }
  let deciding: string | undefined;
  for (const dir of dirs) {
    if ((await stat(join(dir, 'docker.io')).catch(() => undefined))?.isDirectory()) {
      deciding = dir;
      break;
    }
  }
  if (!deciding)
    return {
      status: 'fail',
      name,
      detail: `no directory CRI reads (${dirs.join(':')}, from ${path}) has a docker.io/hosts.toml: CRI pulls go straight to Docker Hub`,
      fix: CONFIGURE,
    };
  const hosts = (await hostsTomlHosts(join(deciding, 'docker.io', 'hosts.toml'))) ?? [];
  const result = hostsVerdict(name, join(deciding, 'docker.io', 'hosts.toml'), hosts, expected, 'CRI pulls go');
  return result.status === 'ok'
    ? {
        ...result,
        detail: `${result.detail} (CRI reads ${dirs.join(':')} as ${path} says; a running containerd took it at its start)`,
      }
    : result;
}

function hostsVerdict(name: string, path: string, hosts: string[], expected: string[], goes: string): CheckResult {
  const missing = expected.filter((m) => !hosts.some((h) => sameMirror(h, m)));
  if (missing.length > 0) {
    const elsewhere = hosts.length === 0 ? 'to its server (no [host] table)' : `to ${hosts.join(', ')}`;
    return {
      status: 'fail',
      name,
      detail: `${path} does not name ${missing.join(', ')}: ${goes} ${elsewhere}`,
      fix: `${CONFIGURE}, or remove the other mirror from that file`,
    };
  }
  const first = hosts.findIndex((h) => expected.some((m) => sameMirror(h, m)));
  if (first > 0)
    return {
      status: 'warn',
      name,
      detail: `${path} names ${hosts.slice(0, first).join(', ')} before ${expected.join(', ')}: containerd tries that first`,
      fix: 'move our [host] table first, or remove the other one',
    };
  return { status: 'ok', name, detail: `${path} names ${expected.join(', ')}` };
}

export async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${path} (${error.code ?? 'error'})`);
  });
}
