import type { Command, CommandContext } from '../../common/command-context.ts';
import { reportSetupError } from './report-setup-error.ts';
import { write } from '../../common/command-context.ts';
import { parseSetupOptions, SETUP_USAGE, type SetupOptions } from '../setup/setup-options.ts';
import { loadSetupState, type SetupState } from '../setup/journal/setup-state.ts';
import { planUnconfigure } from '../setup/unconfigure-plan.ts';
import { printPlan } from '../setup/apply-plan.ts';
import { applyUnconfigurePlan, printUnconfigureSideFiles } from '../setup/apply-unconfigure.ts';
import { settleInterruptedRun, describeInterruptedRun } from '../setup/journal/interrupted-run.ts';
import { isChange, type PlannedFile } from '../setup/planned-file.ts';
import { CONTAINERD_CONFIG_LABEL } from '../setup/cri-config-plan.ts';
import { findDockerdPid } from '../setup/engines/dockerd-process.ts';
import { dockerInfo, mirrorsAbsent } from '../setup/engines/docker-engine.ts';
import { reloadWithoutMirror } from '../setup/reload-without-mirror.ts';
import { withSetupLock } from '../setup/with-setup-lock.ts';

// `unconfigure`: undoes what the state file says configure added, file by file; a running
// dockerd is made to drop our mirror before daemon.json gets its old bytes back.
async function runUnconfigure(ctx: CommandContext): Promise<number> {
  const options = parseSetupOptions(ctx.argv, ctx.env);
  if (options.help) {
    await write(
      ctx.stdout,
      `Usage: docker-credential-dstack unconfigure [--dry-run] [--no-reload] [--state-dir D] [--dockerd-pid N | --dockerd-pidfile PATH] [--lock-wait DURATION]\n${SETUP_USAGE}`,
    );
    return 0;
  }
  return withSetupLock(options, 'unconfigure', ctx, () => unconfigureUnderLock(ctx, options));
}

async function unconfigureUnderLock(ctx: CommandContext, options: SetupOptions): Promise<number> {
  // A configure or unconfigure killed half-way is finished or rolled back first, so the state
  // names every change of ours that is in a file.
  if (options.dryRun) {
    const note = await describeInterruptedRun(options.stateDir);
    if (note) await write(ctx.stdout, `${note}\n`);
  } else await settleInterruptedRun(options.stateDir, ctx.stdout);
  const state = await loadSetupState(options.stateDir);
  if (Object.keys(state.files).length === 0) {
    await write(ctx.stdout, `nothing to unconfigure: no setup state in ${options.stateDir}\n`);
    return 0;
  }
  const files = await planUnconfigure(state);
  if (options.dryRun) {
    await printPlan(files, ctx.stdout);
    await printUnconfigureSideFiles(files, options.stateDir, ctx.stdout);
    await write(ctx.stdout, 'dry run: nothing was changed\n');
    return 0;
  }
  const dockerdKeeps = await dropMirrorFromDockerd(ctx, options, files, state);
  await applyUnconfigurePlan(files, options.stateDir, state, ctx.stdout);
  // containerd reads config.toml only when it starts.
  if (files.some((f) => f.label === CONTAINERD_CONFIG_LABEL && isChange(f)))
    await write(
      ctx.stdout,
      'containerd: restart it for CRI to stop reading our config_path: systemctl restart containerd\n',
    );
  if (dockerdKeeps) {
    await write(ctx.stderr, `not fully unconfigured: the files are restored, but ${dockerdKeeps}\n`);
    return 1;
  }
  await write(ctx.stdout, 'unconfigured\n');
  return 0;
}

// Before daemon.json is restored: the running dockerd reloads without our mirrors (and its
// plan in `files` is replaced by the one from there). Returns what to tell the person when
// the daemon may still use one of them.
async function dropMirrorFromDockerd(
  ctx: CommandContext,
  options: SetupOptions,
  files: PlannedFile[],
  state: SetupState,
): Promise<string | undefined> {
  const index = files.findIndex((f) => f.record?.ownership.kind === 'daemon-json');
  const daemon = files[index];
  const ours = daemon?.record?.ownership.kind === 'daemon-json' ? daemon.record.ownership.mirrors.added : [];
  if (!daemon || ours.length === 0) return undefined;
  const restart = `restart dockerd (\`systemctl restart docker\`) to drop ${ours.join(', ')}`;
  if (options.noReload) {
    await write(
      ctx.stdout,
      `dockerd: not reloaded (--no-reload); a running dockerd keeps ${ours.join(', ')} until it is restarted\n`,
    );
    return undefined;
  }
  const pid = await findDockerdPid({
    pid: options.dockerdPid,
    pidfile: options.dockerdPidfile,
    daemonJson: daemon.path,
  });
  if (pid === undefined) {
    await write(ctx.stdout, 'dockerd: not running; nothing to reload\n');
    return undefined;
  }
  if (daemon.before === undefined) {
    // No file to reload from: only docker info can tell whether the daemon still has it.
    const info = await dockerInfo(ctx.env).catch(() => undefined);
    return info && mirrorsAbsent(info, ours)
      ? undefined
      : `${daemon.path} is gone and dockerd (pid ${pid}) may still use our mirror: ${restart}`;
  }
  const reload = await reloadWithoutMirror(ctx, daemon, pid, options.stateDir, state);
  files[index] = reload.file;
  return reload.confirmed
    ? undefined
    : `dockerd (pid ${pid}) was reloaded and docker info does not show ${ours.join(', ')} gone: ${restart}`;
}

// `docker-credential-dstack unconfigure`: see docs/host-setup.md.
export const unconfigureCommand: Command = (ctx) =>
  runUnconfigure(ctx).catch((error: unknown) => reportSetupError(ctx, 'unconfigure', error));
