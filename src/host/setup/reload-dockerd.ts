import type { CommandContext } from '../../common/command-context.ts';

// What a setup step may touch: the environment and the two output streams, not the command line.
export type SetupIo = Pick<CommandContext, 'env' | 'stdout' | 'stderr'>;
import { write } from '../../common/command-context.ts';
import { signalReload } from './dockerd-process.ts';
import { waitForMirrors, mirrorsInEffect, mirrorsAbsent, type DockerInfo } from './docker-engine.ts';

// SIGHUP makes dockerd re-read daemon.json (registry-mirrors is reloadable: no restart, no
// container touched); docker info then shows whether the change took.
export async function reloadAndConfirm(ctx: SetupIo, pid: number, mirrors: string[], want: 'present' | 'absent'): Promise<DockerInfo | undefined> {
  signalReload(pid);
  const check = want === 'present' ? (i: DockerInfo) => mirrorsInEffect(i, mirrors) : (i: DockerInfo) => mirrorsAbsent(i, mirrors);
  let info: DockerInfo;
  try {
    info = await waitForMirrors(ctx.env, check);
  } catch (error) {
    await write(ctx.stdout, `dockerd: reloaded (pid ${pid}); could not confirm with docker info: ${error instanceof Error ? error.message : String(error)}\n`);
    return undefined;
  }
  if (check(info)) {
    await write(ctx.stdout, `dockerd: reloaded (pid ${pid}, no restart); docker info ${want === 'present' ? 'shows' : 'no longer shows'} ${mirrors.join(', ')}\n`);
  } else {
    await write(ctx.stderr, `warning: dockerd (pid ${pid}) was sent SIGHUP but docker info shows mirrors [${info.mirrors.join(', ')}]; see the dockerd log for "Error reconfiguring"\n`);
  }
  return info;
}
