import { join } from 'node:path';
import { readTarget } from './journal/target-file.ts';
import { addCredHelpers } from './engine-files/docker-client-config.ts';
import { addRegistryMirrors } from './engine-files/daemon-json.ts';
import { withoutStaleHelpers, withoutStaleMirrors } from './stale-entries.ts';
import { addContainerdMirrors } from './engine-files/containerd-hosts.ts';
import { addRegistriesMirrors, REGISTRIES_DROP_IN_NAME } from './engine-files/registries-conf.ts';
import { planTomlFile, unlessNothing } from './toml-file-plan.ts';
import { planCriHostsDir } from './cri-config-plan.ts';
import type { ContainerdVersion } from './engines/containerd-version.ts';
import type { PlannedFile } from './planned-file.ts';
import type { Engine, SetupOptions } from './setup-options.ts';
import type { FileRecord } from './journal/setup-state.ts';

export interface ConfigureInput {
  options: SetupOptions;
  keys: string[];
  // What the engine files name as Docker Hub mirror (the mirrors, or the mirror endpoint).
  mirrors: string[];
  // Local-name mode's loopback registry name (local-name.ts): only podman needs a line for it.
  localName?: string;
  engines: Engine[];
  dockerContainerdStore: boolean;
  // The engines use the host-local mirror endpoint (rather than the mirrors themselves).
  endpoint?: boolean;
  containerd?: ContainerdVersion;
  // What earlier configure runs added, by path (the setup state): entries of ours that are no
  // longer wanted (a switch between the mirror endpoint and the mirrors) are taken out again.
  owned?: Record<string, FileRecord>;
}

export interface ConfigurePlan {
  files: PlannedFile[];
  warnings: string[];
  skippedKeys: string[];
}

// Reads every file configure would touch and computes its new text; writes nothing. Any file
// that cannot be read or understood stops the whole plan, so no host is left half configured.
export async function planConfigure(input: ConfigureInput): Promise<ConfigurePlan> {
  const { options, keys, mirrors, engines } = input;
  const files: PlannedFile[] = [];
  const warnings: string[] = [];
  let skippedKeys: string[] = [];

  if (keys.length > 0) {
    const file = await readTarget(join(options.dockerConfigDir, 'config.json'), 'Docker client config');
    const stale = withoutStaleHelpers(file.text, input.owned?.[file.shownPath], keys, file.shownPath);
    const edit = addCredHelpers(stale.text, keys, { force: options.force, label: file.shownPath });
    warnings.push(...edit.warnings);
    skippedKeys = edit.skipped;
    files.push({
      label: 'Docker client config',
      path: file.shownPath,
      target: file.target,
      before: file.text,
      after: unlessNothing(file.text, edit.text),
      newMode: 0o600,
      ownership: { kind: 'docker-config', credHelpers: edit.owned },
      summary: summarize(
        edit.owned.added.length > 0
          ? `credHelpers for ${edit.owned.added.join(', ')}`
          : `credHelpers already name the helper`,
        stale.removed,
      ),
    });
  }
  const localName = input.localName;
  // dockerd and containerd pull the loopback name over plain http with nothing written
  // (dockerd: 127.0.0.0/8 is insecure by default; containerd: its default host config); podman
  // needs `insecure = true` for it (docs/with-dstack.md, "What each engine needs for the name").
  if (engines.includes('podman') && mirrors.length === 0 && localName) {
    files.push(
      await planTomlFile(
        'containers registries.conf drop-in',
        join(options.registriesConfDir, REGISTRIES_DROP_IN_NAME),
        (t, l) => addRegistriesMirrors(t, [], l, localName),
        `insecure = true for ${localName}`,
      ),
    );
  }
  if (mirrors.length === 0) return { files, warnings, skippedKeys };

  if (engines.includes('docker')) {
    const file = await readTarget(options.daemonJson, 'Docker daemon config');
    const stale = withoutStaleMirrors(file.text, input.owned?.[file.shownPath], mirrors, file.shownPath);
    const edit = addRegistryMirrors(stale.text, mirrors, file.shownPath);
    files.push({
      label: 'Docker daemon config',
      path: file.shownPath,
      target: file.target,
      before: file.text,
      after: unlessNothing(file.text, edit.text),
      newMode: 0o644,
      ownership: { kind: 'daemon-json', mirrors: edit.owned },
      summary: summarize(
        edit.owned.added.length > 0
          ? `registry-mirrors + ${edit.owned.added.join(', ')}`
          : 'registry-mirrors already listed',
        stale.removed,
      ),
    });
    // dockerd's containerd image store reads certs.d/docker.io/hosts.toml, and a file there
    // naming another mirror replaces registry-mirrors entirely. With the endpoint it is written
    // whatever store docker info reports now, so a later switch to that store keeps the endpoint;
    // once written it is kept up to date (a switch back to the mirror replaces the endpoint in it).
    const dockerHosts = join(options.dockerCertsDir, 'docker.io', 'hosts.toml');
    if (input.dockerContainerdStore || input.endpoint || input.owned?.[dockerHosts]) {
      files.push(
        await planTomlFile('Docker containerd-store hosts.toml', dockerHosts, (t, l) =>
          addContainerdMirrors(t, mirrors, l),
        ),
      );
    }
  }
  if (engines.includes('containerd')) {
    files.push(
      await planTomlFile('containerd hosts.toml', join(options.containerdCertsDir, 'docker.io', 'hosts.toml'), (t, l) =>
        addContainerdMirrors(t, mirrors, l),
      ),
    );
    const cri = await planCriHostsDir(options, mirrors, input.containerd);
    files.push(...cri.filter((file) => !files.some((f) => f.target === file.target)));
  }
  if (engines.includes('podman')) {
    const what = localName ? `docker.io mirror; insecure = true for ${localName}` : 'docker.io mirror';
    files.push(
      await planTomlFile(
        'containers registries.conf drop-in',
        join(options.registriesConfDir, REGISTRIES_DROP_IN_NAME),
        (t, l) => addRegistriesMirrors(t, mirrors, l, localName),
        what,
      ),
    );
  }
  return { files, warnings, skippedKeys };
}

function summarize(summary: string, removed: string[]): string {
  return removed.length === 0 ? summary : `${summary}; no longer ${removed.join(', ')}`;
}
