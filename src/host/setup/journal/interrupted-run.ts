import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { write } from '../../../common/command-context.ts';
import { tempFilesLeftBy } from '../../../common/atomic-write.ts';
import { CodedError } from '../../../common/errors.ts';
import { loadSetupState, STATE_FILE } from './setup-state.ts';
import { readJournal, journalPath, isRunning } from './setup-journal.ts';
import { settleInterruptedStep } from './journaled-step.ts';

// Before configure or unconfigure plans anything: a step that a killed run left in the journal
// is finished or rolled back, so the state file again records every change of ours that is in
// a file, and nothing else. A run still going is not interfered with.
export async function settleInterruptedRun(stateDir: string, stdout: Writable): Promise<void> {
  const step = await readJournal(stateDir);
  if (step) {
    if (await isRunning(step.writer)) {
      throw new CodedError(
        'setup_busy',
        `another ${step.command} (pid ${step.writer.pid}) is writing ${step.path} now; wait for it to end and run the command again`,
      );
    }
    const outcome = await settleInterruptedStep(stateDir, await loadSetupState(stateDir), step);
    const why =
      outcome === 'finished' ? 'it had written the file; recorded in the setup state' : 'the file was as before it';
    await write(
      stdout,
      `${step.label} ${step.path}: ${outcome} what an interrupted ${step.command} (pid ${step.writer.pid}) had begun (${why})\n`,
    );
  }
  // A run killed while writing the state file or the journal itself leaves only a temp file.
  for (const file of [join(stateDir, STATE_FILE), journalPath(stateDir)]) {
    for (const temp of await tempFilesLeftBy(file)) {
      if (temp.pid !== process.pid && !(await pidAlive(temp.pid))) await rm(temp.path, { force: true });
    }
  }
  const left = await readdir(stateDir).catch(() => undefined);
  if (left?.length === 0) await rmdir(stateDir).catch(() => {});
}

// For the dry run, which changes nothing: what the next real run will settle first.
export async function describeInterruptedRun(stateDir: string): Promise<string | undefined> {
  const step = await readJournal(stateDir);
  if (!step) return undefined;
  return `note: an interrupted ${step.command} (pid ${step.writer.pid}) left a step on ${step.label} ${step.path} in ${journalPath(stateDir)}; configure or unconfigure finishes or rolls it back first`;
}

async function pidAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
