import type { Command, CommandContext } from '../../common/command-context.ts';
import { reportSetupError } from './report-setup-error.ts';
import { write } from '../../common/command-context.ts';
import { parseSetupOptions, SETUP_USAGE } from '../setup/setup-options.ts';
import { loadSetupState } from '../setup/setup-state.ts';
import { planUnconfigure } from '../setup/unconfigure-plan.ts';
import { printPlan, applyUnconfigurePlan } from '../setup/apply-plan.ts';
import { isChange } from '../setup/planned-file.ts';
import { findDockerdPid } from '../setup/dockerd-process.ts';
import { reloadAndConfirm } from '../setup/reload-dockerd.ts';

// `unconfigure`: undoes what the state file says configure added, file by file, and reloads
// dockerd when daemon.json changed.
async function runUnconfigure(ctx: CommandContext): Promise<number> {
  const options = parseSetupOptions(ctx.argv, ctx.env);
  if (options.help) {
    await write(ctx.stdout, `Usage: docker-credential-dstack unconfigure [--dry-run] [--no-reload] [--state-dir D] [--dockerd-pid N | --dockerd-pidfile PATH]\n${SETUP_USAGE}`);
    return 0;
  }
  const state = await loadSetupState(options.stateDir);
  if (Object.keys(state.files).length === 0) {
    await write(ctx.stdout, `nothing to unconfigure: no setup state in ${options.stateDir}\n`);
    return 0;
  }
  const files = await planUnconfigure(state);
  if (options.dryRun) {
    await printPlan(files, ctx.stdout);
    await write(ctx.stdout, 'dry run: nothing was changed\n');
    return 0;
  }
  const daemon = files.find((f) => f.record?.ownership.kind === 'daemon-json' && isChange(f));
  const ourMirrors = daemon?.record?.ownership.kind === 'daemon-json' ? daemon.record.ownership.mirrors.added : [];
  await applyUnconfigurePlan(files, options.stateDir, state, ctx.stdout);
  if (daemon && ourMirrors.length > 0) {
    const pid = options.noReload ? undefined : await findDockerdPid({ pid: options.dockerdPid, pidfile: options.dockerdPidfile, daemonJson: daemon.path });
    if (options.noReload) await write(ctx.stdout, 'dockerd: not reloaded (--no-reload)\n');
    else if (pid === undefined) await write(ctx.stdout, 'dockerd: not running; nothing to reload\n');
    else await reloadAndConfirm(ctx, pid, ourMirrors, 'absent');
  }
  await write(ctx.stdout, 'unconfigured\n');
  return 0;
}

// `docker-credential-dstack unconfigure`: see docs/host-setup.md.
export const unconfigureCommand: Command = (ctx) => runUnconfigure(ctx).catch((error: unknown) => reportSetupError(ctx, 'unconfigure', error));
