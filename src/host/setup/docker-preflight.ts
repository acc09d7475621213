import { resolve } from 'node:path';
import { CodedError } from '../../common/errors.ts';
import {
  findDockerdPid,
  dockerdArgs,
  hasRegistryMirrorFlag,
  configFileFlag,
  systemdUnitsWithMirrorFlag,
  environmentFilesWithMirrorFlag,
} from './engines/dockerd-process.ts';
import { dockerInfo, type DockerInfo } from './engines/docker-engine.ts';
import type { SetupOptions } from './setup-options.ts';

export interface DockerState {
  pid?: number;
  info?: DockerInfo;
  infoError?: string;
  notes: string[];
}

// Before daemon.json gets registry-mirrors: the daemon must not also have the flag (it would
// refuse to start), and we learn its pid (for SIGHUP) and image store (from docker info).
export async function dockerPreflight(
  options: SetupOptions,
  env: Record<string, string | undefined>,
): Promise<DockerState> {
  const notes: string[] = [];
  const explicit = options.dockerdPid !== undefined || options.dockerdPidfile !== undefined;
  const pid = await findDockerdPid({
    pid: options.dockerdPid,
    pidfile: options.dockerdPidfile,
    daemonJson: options.daemonJson,
  });
  if (explicit && pid === undefined && !options.noReload) {
    throw new CodedError(
      'dockerd_not_found',
      `no running dockerd at ${options.dockerdPidfile ? `pidfile ${options.dockerdPidfile}` : `pid ${options.dockerdPid}`}; check the option or leave it out`,
    );
  }
  if (pid !== undefined) {
    const args = await dockerdArgs(pid);
    if (hasRegistryMirrorFlag(args)) {
      throw new CodedError(
        'dockerd_mirror_flag',
        `dockerd (pid ${pid}) runs with a --registry-mirror flag; with registry-mirrors also in daemon.json it would refuse to start. Remove the flag from its command line (systemd unit or drop-in), or leave daemon.json alone with --engines; nothing was changed`,
      );
    }
    const configFile = configFileFlag(args);
    if (configFile !== undefined && resolve(configFile) !== resolve(options.daemonJson)) {
      notes.push(
        `note: the running dockerd reads ${configFile}, not ${options.daemonJson}; pass --daemon-json ${configFile} to configure that one`,
      );
    }
  }
  if (!explicit) {
    const units = [...(await systemdUnitsWithMirrorFlag()), ...(await environmentFilesWithMirrorFlag())];
    if (units.length > 0) {
      throw new CodedError(
        'dockerd_mirror_flag',
        `${units.join(', ')} start dockerd with --registry-mirror; with registry-mirrors also in daemon.json it would refuse to start. Remove the flag there first; nothing was changed`,
      );
    }
  }
  try {
    return { pid, info: await dockerInfo(env), notes };
  } catch (error) {
    return { pid, infoError: error instanceof Error ? error.message : String(error), notes };
  }
}
