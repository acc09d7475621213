import type { CommandContext } from '../../../common/command-context.ts';

// What a setup step may touch: the environment and the two output streams, not the command line.
export type SetupIo = Pick<CommandContext, 'env' | 'stdout' | 'stderr'>;
import { write } from '../../../common/command-context.ts';
import { signalReload } from './dockerd-process.ts';
import { waitForMirrors, mirrorsInEffect, mirrorsAbsent, type DockerInfo } from './docker-engine.ts';

export interface ReloadResult {
  // docker info after the reload; undefined when it could not be read.
  info?: DockerInfo;
  // docker info shows the mirrors as wanted.
  confirmed: boolean;
}

// What dockerd 20.10–28 logs when it refuses a reload (after "Got signal to reload
// configuration"); "Reloaded configuration" means it took the file.
export const RELOAD_REJECTED_LOG =
  '"Error reconfiguring the daemon: …" or "unable to configure the Docker daemon with file …"';

// SIGHUP makes dockerd re-read daemon.json (registry-mirrors is reloadable: no restart, no
// container touched); docker info then shows whether the change took. The caller words a
// failure: what it means differs between configure and unconfigure.
export async function reloadAndConfirm(
  ctx: SetupIo,
  pid: number,
  mirrors: string[],
  want: 'present' | 'absent',
): Promise<ReloadResult> {
  signalReload(pid);
  const check =
    want === 'present' ? (i: DockerInfo) => mirrorsInEffect(i, mirrors) : (i: DockerInfo) => mirrorsAbsent(i, mirrors);
  let info: DockerInfo;
  try {
    info = await waitForMirrors(ctx.env, check);
  } catch (error) {
    await write(
      ctx.stdout,
      `dockerd: reloaded (pid ${pid}); could not confirm with docker info: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return { confirmed: false };
  }
  if (!check(info)) {
    await write(
      ctx.stderr,
      `warning: dockerd (pid ${pid}) was sent SIGHUP, but docker info still lists mirrors [${info.mirrors.join(', ')}]\n`,
    );
    return { info, confirmed: false };
  }
  await write(
    ctx.stdout,
    `dockerd: reloaded (pid ${pid}, no restart); docker info ${want === 'present' ? 'shows' : 'no longer shows'} ${mirrors.join(', ')}\n`,
  );
  return { info, confirmed: true };
}
