import type { Writable } from 'node:stream';
import { dirname, join } from 'node:path';
import { write } from '../../common/command-context.ts';
import { probeWritable, writeChange, missingDirs, exists, BACKUP_SUFFIX } from './journal/apply-change.ts';
import {
  loadSetupState,
  mergeOwnership,
  sha256,
  STATE_FILE,
  type FileRecord,
  type SetupState,
} from './journal/setup-state.ts';
import { journalPath } from './journal/setup-journal.ts';
import { runJournaledStep } from './journal/journaled-step.ts';
import { unifiedDiff } from './formats/unified-diff.ts';
import { isChange, type PlannedFile } from './planned-file.ts';

// --dry-run: the diff each file would get, and a line for each file that would stay as it is.
export async function printPlan(files: PlannedFile[], stdout: Writable): Promise<void> {
  for (const file of files) {
    if (!isChange(file)) {
      await write(stdout, `${file.label} ${file.path}: unchanged (${file.summary})\n`);
      continue;
    }
    const verb =
      file.after === undefined ? 'would remove' : file.before === undefined ? 'would create' : 'would change';
    await write(
      stdout,
      `${file.label} ${file.path}: ${verb} (${file.summary})\n${unifiedDiff(file.path, file.before, file.after)}`,
    );
  }
}

// Everything a configure write touches besides the file itself: the backup of what was there
// (first configure only: later ones would save our own earlier output), the directories it
// creates, and the record unconfigure will read.
interface ConfigureStep {
  file: PlannedFile & { after: string };
  previous: FileRecord | null;
  backup?: string;
  backupCreated: boolean;
  createdDirs: string[];
}

async function configureStep(file: PlannedFile & { after: string }, state: SetupState): Promise<ConfigureStep> {
  const previous = state.files[file.path] ?? null;
  const backup = !previous && file.before !== undefined ? `${file.target}${BACKUP_SUFFIX}` : undefined;
  const backupCreated = backup !== undefined && !(await exists(backup));
  return { file, previous, backup, backupCreated, createdDirs: await missingDirs(dirname(file.target)) };
}

function writesOf(files: PlannedFile[]): Array<PlannedFile & { after: string }> {
  return files.filter(
    (file): file is PlannedFile & { after: string } =>
      isChange(file) && file.after !== undefined && file.ownership !== undefined,
  );
}

// --dry-run: every other path configure would write, so nothing it touches goes unnamed.
export async function printConfigureSideFiles(files: PlannedFile[], stateDir: string, stdout: Writable): Promise<void> {
  const writes = writesOf(files);
  if (writes.length === 0) return;
  const state = await loadSetupState(stateDir);
  for (const file of writes) await printSideFiles(await configureStep(file, state), stdout, 'would create');
  await printStateFiles(stateDir, stdout, true);
}

// Applies configure's plan: checks every directory is writable first, then writes file by
// file, each step under the journal (journaled-step.ts) and recorded in the state file.
export async function applyConfigurePlan(files: PlannedFile[], stateDir: string, stdout: Writable): Promise<number> {
  const writes = writesOf(files);
  for (const file of writes) await probeWritable(file.target, file.label);
  if (writes.length > 0) await probeWritable(join(stateDir, STATE_FILE), 'setup state');
  const state = await loadSetupState(stateDir);
  for (const file of files) {
    if (!writes.includes(file as PlannedFile & { after: string })) {
      await write(stdout, `${file.label} ${file.path}: already configured\n`);
      continue;
    }
    const step = await configureStep(file as PlannedFile & { after: string }, state);
    const { previous, backup, createdDirs } = step;
    const record: FileRecord = previous
      ? {
          ...previous,
          target: file.target,
          afterSha256: sha256(step.file.after),
          ownership: mergeOwnership(previous.ownership, file.ownership!),
        }
      : {
          label: file.label,
          target: file.target,
          created: file.before === undefined,
          createdDirs,
          beforeSha256: file.before === undefined ? undefined : sha256(file.before),
          afterSha256: sha256(step.file.after),
          backup,
          backupCreated: step.backupCreated,
          ownership: file.ownership!,
        };
    await runJournaledStep(
      stateDir,
      state,
      {
        command: 'configure',
        label: file.label,
        path: file.path,
        target: file.target,
        beforeSha256: file.before === undefined ? null : sha256(file.before),
        afterSha256: sha256(step.file.after),
        backup: backup ?? previous?.backup,
        recordBefore: previous,
        recordAfter: record,
        onFinish: { files: [], dirs: [] },
        onRollback: { files: step.backupCreated ? [backup!] : [], dirs: createdDirs },
      },
      () => writeChange(file.target, file.before, step.file.after, file.newMode, file.label, backup),
    );
    await write(
      stdout,
      `${file.label} ${file.path}: ${file.before === undefined ? 'created' : 'updated'} (${file.summary})\n`,
    );
    await printSideFiles(step, stdout, 'created');
  }
  if (writes.length > 0) await printStateFiles(stateDir, stdout, false);
  return writes.length;
}

async function printSideFiles(step: ConfigureStep, stdout: Writable, verb: string): Promise<void> {
  for (const dir of step.createdDirs) await write(stdout, `  directory ${dir}: ${verb}\n`);
  if (step.backupCreated)
    await write(stdout, `  backup ${step.backup}: ${verb} (the file before configure, for unconfigure)\n`);
}

async function printStateFiles(stateDir: string, stdout: Writable, dryRun: boolean): Promise<void> {
  const verb = dryRun ? 'would be written' : 'written';
  await write(
    stdout,
    `setup state ${join(stateDir, STATE_FILE)}: ${verb} (what configure added, for unconfigure; directory ${stateDir}, mode 0700)\n`,
  );
  await write(
    stdout,
    `setup journal ${journalPath(stateDir)}: ${verb} before each file and removed after it (lets a killed run be finished or rolled back)\n`,
  );
}
