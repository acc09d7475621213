import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Dockerd } from './dockerd.ts';
import { addRegistryMirrors } from '../../../src/host/setup/engine-files/daemon-json.ts';
import { addContainerdMirrors } from '../../../src/host/setup/engine-files/containerd-hosts.ts';
import { addRegistriesMirrors, REGISTRIES_DROP_IN_NAME } from '../../../src/host/setup/engine-files/registries-conf.ts';

// The engines' mirror files pointed at the host-local endpoint, written with the same edits
// `configure` makes for a mirror today (src/host/setup/*): daemon.json `registry-mirrors`
// (then SIGHUP to our dockerd), containerd's certs.d/docker.io/hosts.toml, and the
// containers-registries.conf drop-in. Until `configure` itself points the engines at the
// endpoint, this is the one place that does it; swap it for a `configure` call then.
export interface EngineMirrorFiles {
  daemonJson: string;
  // The directory `ctr images pull --hosts-dir` takes (holds docker.io/hosts.toml).
  containerdHostsDir: string;
  containerdHostsToml: string;
  // A complete registries.conf v2 file; podman reads it from CONTAINERS_REGISTRIES_CONF.
  registriesDropIn: string;
}

export async function pointEnginesAtMirror(
  dockerd: Dockerd,
  dir: string,
  mirrorUrl: string,
): Promise<EngineMirrorFiles> {
  const containerdHostsDir = join(dir, 'containerd-certs.d');
  const containerdHostsToml = join(containerdHostsDir, 'docker.io', 'hosts.toml');
  const registriesDropIn = join(dir, 'registries.conf.d', REGISTRIES_DROP_IN_NAME);
  await setDockerdMirror(dockerd, mirrorUrl);
  await edit(containerdHostsToml, (text) => addContainerdMirrors(text, [mirrorUrl], containerdHostsToml));
  await edit(registriesDropIn, (text) => addRegistriesMirrors(text, [mirrorUrl], registriesDropIn));
  return { daemonJson: dockerd.daemonJsonPath, containerdHostsDir, containerdHostsToml, registriesDropIn };
}

// daemon.json `registry-mirrors` = exactly this mirror (an earlier one is dropped), reloaded.
export async function setDockerdMirror(dockerd: Dockerd, mirrorUrl: string): Promise<void> {
  const before = await readFile(dockerd.daemonJsonPath, 'utf8').catch(() => undefined);
  const doc = JSON.parse(before?.trim() ? before : '{}') as Record<string, unknown>;
  delete doc['registry-mirrors'];
  const { text } = addRegistryMirrors(`${JSON.stringify(doc, null, 2)}\n`, [mirrorUrl], dockerd.daemonJsonPath);
  await writeFile(dockerd.daemonJsonPath, text);
  await dockerd.reload();
}

async function edit(path: string, change: (text: string | undefined) => string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const before = await readFile(path, 'utf8').catch(() => undefined);
  await writeFile(path, change(before));
}

// daemon.json with no mirror, reloaded: a dockerd as local-name mode leaves it, reaching the
// endpoint only by the image's own name. `[]`, not an absent key: a reload changes only the
// keys the file sets.
export async function clearDockerdMirrors(dockerd: Dockerd): Promise<void> {
  const doc = JSON.parse((await readFile(dockerd.daemonJsonPath, 'utf8')).trim() || '{}') as Record<string, unknown>;
  doc['registry-mirrors'] = [];
  await writeFile(dockerd.daemonJsonPath, `${JSON.stringify(doc, null, 2)}\n`);
  await dockerd.reload();
}
