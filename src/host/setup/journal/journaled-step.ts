import { readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempFilesLeftBy } from '../../../common/atomic-write.ts';
import { CodedError } from '../../../common/errors.ts';
import { saveSetupState, sha256, STATE_FILE, type FileRecord, type SetupState } from './setup-state.ts';
import {
  writeJournal,
  clearJournal,
  journalPath,
  processIdentity,
  type JournalStep,
  type StepCleanup,
} from './setup-journal.ts';

export type StepPlan = Omit<JournalStep, 'version' | 'writer'>;

// Runs one file step under the journal: the intent on disk first, then the change, then the
// state file, then the journal goes. A change that fails is settled at once (rolled back, unless
// the file already holds the new bytes) and its error passed on.
export async function runJournaledStep(
  stateDir: string,
  state: SetupState,
  plan: StepPlan,
  change: () => Promise<void>,
): Promise<void> {
  const step: JournalStep = {
    version: 1,
    writer: (await processIdentity()) ?? { pid: process.pid, started: '' },
    ...plan,
  };
  await writeJournal(stateDir, step);
  try {
    await change();
  } catch (error) {
    const now = await currentSha256(step.target).catch(() => undefined);
    const done = now !== undefined && now === step.afterSha256 && now !== step.beforeSha256;
    // If even this fails, the journal stays for the next run to settle.
    await settle(
      stateDir,
      state,
      step,
      done ? step.recordAfter : step.recordBefore,
      done ? step.onFinish : step.onRollback,
    ).catch(() => {});
    throw error;
  }
  await settle(stateDir, state, step, step.recordAfter, step.onFinish);
}

// A step left by a run that was killed: finished when the file holds the new bytes, rolled back
// when it holds the old ones. A file that holds neither was changed by someone else since, and
// only a person can tell what to keep.
export async function settleInterruptedStep(
  stateDir: string,
  state: SetupState,
  step: JournalStep,
): Promise<'finished' | 'rolled back'> {
  for (const path of [
    step.target,
    step.backup,
    ...step.onFinish.files,
    ...step.onRollback.files,
    join(stateDir, STATE_FILE),
    journalPath(stateDir),
  ]) {
    if (path === undefined) continue;
    for (const temp of await tempFilesLeftBy(path, step.writer.pid)) await rm(temp.path, { force: true });
  }
  const now = await currentSha256(step.target);
  if (now === step.afterSha256) {
    await settle(stateDir, state, step, step.recordAfter, step.onFinish);
    return 'finished';
  }
  if (now === step.beforeSha256) {
    await settle(stateDir, state, step, step.recordBefore, step.onRollback);
    return 'rolled back';
  }
  throw new CodedError(
    'interrupted_run_conflict',
    `${step.label} ${step.path} was changed by something else after an interrupted ${step.command} (pid ${step.writer.pid}) began writing it; it was left as it is: check it${step.backup ? ` (its content before configure is in ${step.backup})` : ''}, then remove ${journalPath(stateDir)} and run the command again`,
  );
}

async function settle(
  stateDir: string,
  state: SetupState,
  step: JournalStep,
  record: FileRecord | null,
  cleanup: StepCleanup,
): Promise<void> {
  for (const file of cleanup.files) await rm(file, { force: true });
  for (const dir of [...cleanup.dirs].sort((a, b) => b.length - a.length)) await rmdir(dir).catch(() => {});
  if (record) state.files[step.path] = record;
  else delete state.files[step.path];
  await saveSetupState(stateDir, state);
  await clearJournal(stateDir);
}

// sha256 of the file's bytes; null when there is no file.
async function currentSha256(path: string): Promise<string | null> {
  try {
    return sha256(await readFile(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
