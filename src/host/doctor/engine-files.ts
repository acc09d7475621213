import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { mirrorLocation, sameMirror } from '../../registry/mirror-url.ts';
import { readMirrors } from '../setup/engine-files/daemon-json.ts';
import { detectEngines } from '../setup/engines/detect-engines.ts';
import { parseJsonObject } from '../setup/formats/json-document.ts';
import { REGISTRIES_DROP_IN_NAME } from '../setup/engine-files/registries-conf.ts';
import type { Engine } from '../setup/setup-options.ts';
import { readTomlTables } from '../setup/formats/toml-read.ts';
import { containerdCriNames, dockerCertsNames, hostsTomlHosts, readText } from './hosts-dir-checks.ts';
import { expectedMirrors, message, skipped, type Check, type CheckResult, type DoctorContext } from './doctor-check.ts';

const FIX = 'run docker-credential-dstack configure';

// Each engine's own file names what configure would point it at: daemon.json registry-mirrors
// and dockerd's certs.d/docker.io/hosts.toml (its containerd store), containerd's
// certs.d/docker.io/hosts.toml and the config.toml that points CRI at it, podman's
// registries.conf.d (the file that decides for docker.io, which a later-sorting drop-in can
// take over from ours).
export const engineFiles: Check = async (ctx) => {
  const engines = ctx.options.engines ?? (await detectEngines(ctx.env));
  const files: Array<{ engine: Engine; name: string; check: (expected: string[]) => Promise<CheckResult> }> = [
    { engine: 'docker', name: 'daemon.json', check: (m) => daemonJsonNames(ctx, m) },
    { engine: 'docker', name: 'docker certs.d hosts.toml', check: (m) => dockerCertsNames(ctx, m) },
    { engine: 'containerd', name: 'containerd hosts.toml', check: (m) => hostsTomlNames(ctx, m) },
    { engine: 'containerd', name: 'containerd CRI', check: (m) => containerdCriNames(ctx, m) },
    { engine: 'podman', name: 'podman registries.conf.d', check: (m) => dropInNames(ctx, m) },
  ];
  const results: CheckResult[] = [];
  for (const file of files) {
    if (!engines.includes(file.engine)) {
      results.push(
        skipped(file.name, `${file.engine} is not installed${ctx.options.engines ? ' (not in --engines)' : ''}`),
      );
      continue;
    }
    const expected = expectedMirrors(ctx, file.name);
    if (!Array.isArray(expected)) results.push(expected);
    else
      results.push(
        await file.check(expected).catch((error: unknown) => ({
          status: 'fail' as const,
          name: file.name,
          detail: message(error),
          fix: 'fix or move the file, then run docker-credential-dstack configure',
        })),
      );
  }
  return results;
};

// daemon.json's registry-mirrors: undefined when the file or the key is absent.
export async function daemonJsonMirrors(path: string): Promise<string[] | undefined> {
  const text = await readText(path);
  return text === undefined ? undefined : readMirrors(parseJsonObject(text, path), path);
}

async function daemonJsonNames(ctx: DoctorContext, expected: string[]): Promise<CheckResult> {
  const path = ctx.options.daemonJson;
  const listed = (await daemonJsonMirrors(path)) ?? [];
  return verdict('daemon.json', path, expected, (m) => listed.some((l) => sameMirror(l, m)));
}

async function hostsTomlNames(ctx: DoctorContext, expected: string[]): Promise<CheckResult> {
  const path = join(ctx.options.containerdCertsDir, 'docker.io', 'hosts.toml');
  const hosts = (await hostsTomlHosts(path)) ?? [];
  return verdict('containerd hosts.toml', path, expected, (m) => hosts.some((h) => sameMirror(h, m)));
}

async function dropInNames(ctx: DoctorContext, expected: string[]): Promise<CheckResult> {
  const dir = ctx.options.registriesConfDir;
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.conf')).sort();
  // Drop-ins are read in name order; a later [[registry]] for docker.io replaces an earlier one.
  let deciding: { path: string; locations: string[] } | undefined;
  for (const name of names) {
    const path = join(dir, name);
    const found = dockerIoMirrors(readTomlTables((await readText(path)) ?? '', path));
    if (found) deciding = { path, locations: found };
  }
  const ours = join(dir, REGISTRIES_DROP_IN_NAME);
  if (!deciding) return verdict('podman registries.conf.d', ours, expected, () => false);
  const result = verdict('podman registries.conf.d', deciding.path, expected, (m) =>
    deciding!.locations.includes(mirrorLocation(m)),
  );
  return deciding.path === ours || result.status === 'ok'
    ? result
    : {
        ...result,
        detail: `${result.detail}; it sorts after ${REGISTRIES_DROP_IN_NAME} and decides docker.io`,
        fix: `move its docker.io [[registry]] into ${ours}, or rename it to sort earlier`,
      };
}

// The mirror locations of a [[registry]] whose prefix (or location) is docker.io, if the file has one.
function dockerIoMirrors(tables: ReturnType<typeof readTomlTables>): string[] | undefined {
  let inDockerIo = false;
  let found: string[] | undefined;
  for (const table of tables) {
    const path = table.path.join('.');
    if (path === 'registry' && table.arrayItem) {
      const prefix = table.values.get('prefix') ?? table.values.get('location');
      inDockerIo = prefix === 'docker.io';
      if (inDockerIo) found = [];
    } else if (path === 'registry.mirror' && inDockerIo) {
      const location = table.values.get('location');
      if (typeof location === 'string') found!.push(location.replace(/\/+$/, ''));
    }
  }
  return found;
}

function verdict(name: string, path: string, expected: string[], names: (mirror: string) => boolean): CheckResult {
  const missing = expected.filter((m) => !names(m));
  return missing.length === 0
    ? { status: 'ok', name, detail: `${path} names ${expected.join(', ')}` }
    : { status: 'fail', name, detail: `${path} does not name ${missing.join(', ')}`, fix: FIX };
}
