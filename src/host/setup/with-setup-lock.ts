import { write, type CommandContext } from '../../common/command-context.ts';
import type { SetupOptions } from './setup-options.ts';
import { setupLockPath, takeSetupLock } from './journal/setup-lock.ts';

// Runs a configure or unconfigure under the setup lock of its state directory, released
// however the run ends (a killed run leaves it to be taken over). A dry run writes nothing,
// so it runs without the lock and creates no state directory. Either way the output names
// the lock file, as it names every file the run writes.
export async function withSetupLock(
  options: SetupOptions,
  command: 'configure' | 'unconfigure',
  ctx: CommandContext,
  run: () => Promise<number>,
): Promise<number> {
  const path = setupLockPath(options.stateDir);
  if (options.dryRun) {
    const code = await run();
    await write(
      ctx.stdout,
      `setup lock ${path}: would be held while ${command} runs (one configure or unconfigure at a time)\n`,
    );
    return code;
  }
  const release = await takeSetupLock(options.stateDir, { command, waitMs: options.lockWaitMs, stderr: ctx.stderr });
  let code: number;
  try {
    code = await run();
  } finally {
    await release();
  }
  await write(
    ctx.stdout,
    `setup lock ${path}: held while this ${command} ran, then removed (one configure or unconfigure at a time)\n`,
  );
  return code;
}
