import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readTarget } from './journal/target-file.ts';
import { addContainerdMirrors } from './engine-files/containerd-hosts.ts';
import {
  criHostsDirs,
  readCriRegistry,
  setCriConfigPath,
  type ConfigVersion,
} from './engine-files/containerd-config.ts';
import { planTomlFile, unlessNothing } from './toml-file-plan.ts';
import { CodedError } from '../../common/errors.ts';
import type { ContainerdVersion } from './engines/containerd-version.ts';
import type { PlannedFile } from './planned-file.ts';
import type { SetupOptions } from './setup-options.ts';

export const CONTAINERD_CONFIG_LABEL = 'containerd config';

// containerd's CRI (what the kubelet calls) reads hosts.toml files only from the directories its
// config_path names, and only the key of the config's own version counts (a version 3 config
// ignores the version 2 table). So: the certs dir already among them → nothing to do; config_path
// naming other directories → the operator chose them: our hosts.toml goes where CRI looks for
// docker.io, config.toml stays as it is; config_path empty or absent → it is set to the certs dir
// (a missing file is created with the version this containerd reads: 3 from containerd 2.0,
// else 2, which 1.x reads and 2.x migrates).
export async function planCriHostsDir(
  options: SetupOptions,
  mirrors: string[],
  containerd: ContainerdVersion | undefined,
): Promise<PlannedFile[]> {
  const file = await readTarget(options.containerdConfig, CONTAINERD_CONFIG_LABEL);
  const cri = readCriRegistry(file.text, file.shownPath);
  const dirs = criHostsDirs(cri, containerd);
  const base = {
    label: CONTAINERD_CONFIG_LABEL,
    path: file.shownPath,
    target: file.target,
    before: file.text,
    after: file.text,
    newMode: 0o644,
  };
  if (cri.criDisabled) return [{ ...base, summary: 'CRI is disabled there (disabled_plugins); left as it is' }];
  if (dirs.some((dir) => resolve(dir) === resolve(options.containerdCertsDir))) {
    return [{ ...base, summary: `CRI already reads ${options.containerdCertsDir}` }];
  }
  if (cri.configPath) {
    const where = (await firstWithDockerIo(dirs)) ?? dirs[0]!;
    const hosts = await planTomlFile('containerd CRI hosts.toml', join(where, 'docker.io', 'hosts.toml'), (t, l) =>
      addContainerdMirrors(t, mirrors, l),
    );
    return [
      { ...base, summary: `config_path names ${cri.configPath}; left as it is, the CRI hosts.toml goes to ${where}` },
      hosts,
    ];
  }
  if (cri.legacyMirrors) {
    throw new CodedError(
      'config_conflict',
      `${file.shownPath} sets CRI's deprecated registry mirrors (or configs.<host>.tls), and containerd refuses config_path next to them; move them into hosts.toml files under ${options.containerdCertsDir} by hand, nothing was changed`,
    );
  }
  const version: ConfigVersion = containerd && containerd.major >= 2 ? 3 : 2;
  const edit = setCriConfigPath(file.text, options.containerdCertsDir, version, file.shownPath);
  return [
    {
      ...base,
      after: unlessNothing(file.text, edit.text),
      ownership:
        edit.replacedLine === undefined
          ? { kind: 'containerd-config' }
          : { kind: 'containerd-config', replacedLine: edit.replacedLine },
      summary: `CRI config_path = ${options.containerdCertsDir}`,
    },
  ];
}

// containerd takes the first directory of config_path that has a directory for the host.
async function firstWithDockerIo(dirs: string[]): Promise<string | undefined> {
  for (const dir of dirs) {
    if ((await stat(join(dir, 'docker.io')).catch(() => undefined))?.isDirectory()) return dir;
  }
  return undefined;
}
