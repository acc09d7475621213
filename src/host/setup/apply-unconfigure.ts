import type { Writable } from 'node:stream';
import { join } from 'node:path';
import { write } from '../../common/command-context.ts';
import { probeWritable, writeChange, restoreBackup, removeFile } from './journal/apply-change.ts';
import { sha256, STATE_FILE, type FileRecord, type SetupState } from './journal/setup-state.ts';
import { runJournaledStep } from './journal/journaled-step.ts';
import { journalPath } from './journal/setup-journal.ts';
import { isChange, type PlannedFile } from './planned-file.ts';

// Applies unconfigure's plan: restores, edits or removes each file, then forgets it (and the
// backup and directories configure made) in the state file, each step under the journal.
export async function applyUnconfigurePlan(
  files: PlannedFile[],
  stateDir: string,
  state: SetupState,
  stdout: Writable,
): Promise<number> {
  const changes = files.filter(isChange);
  for (const file of changes) await probeWritable(file.target, file.label);
  for (const file of files) {
    const cleanup = await applyUnconfigureStep(file, stateDir, state, null);
    const verb = !isChange(file)
      ? 'unchanged'
      : file.after === undefined
        ? 'removed'
        : file.restoreFrom
          ? 'restored'
          : 'edited';
    await write(stdout, `${file.label} ${file.path}: ${verb} (${file.summary})\n`);
    for (const path of cleanup.files) await write(stdout, `  backup ${path}: removed\n`);
    for (const dir of [...cleanup.dirs].reverse()) await write(stdout, `  directory ${dir}: removed if empty\n`);
  }
  if (files.length > 0) {
    await write(
      stdout,
      `setup state ${join(stateDir, STATE_FILE)}: ${Object.keys(state.files).length === 0 ? `removed, with ${stateDir} when empty` : 'updated'}\n`,
    );
    await write(stdout, `setup journal ${journalPath(stateDir)}: written before each file and removed after it\n`);
  }
  return changes.length;
}

// --dry-run: the other paths unconfigure would remove, after the diffs.
export async function printUnconfigureSideFiles(
  files: PlannedFile[],
  stateDir: string,
  stdout: Writable,
): Promise<void> {
  for (const file of files) {
    const record = file.record!;
    if (record.backupCreated && record.backup) await write(stdout, `  backup ${record.backup}: would remove\n`);
    if (file.after === undefined)
      for (const dir of [...record.createdDirs].reverse())
        await write(stdout, `  directory ${dir}: would remove if empty\n`);
    if (record.ownership.kind === 'daemon-json' && record.ownership.mirrors.added.length > 0) {
      await write(
        stdout,
        `  ${file.path}: when dockerd runs, first written with "registry-mirrors" without ${record.ownership.mirrors.added.join(', ')} for its reload\n`,
      );
    }
  }
  await write(stdout, `setup state ${join(stateDir, STATE_FILE)}: would be removed, with ${stateDir} when empty\n`);
  await write(
    stdout,
    `setup journal ${journalPath(stateDir)}: would be written before each file and removed after it\n`,
  );
}

// One file of unconfigure. `recordAfter` is null when the file is done with (its record, its
// backup and, for a removed file, the directories configure created go too), or the record
// to keep when this is a step on the way (the reload step of reload-without-mirror.ts).
export async function applyUnconfigureStep(
  file: PlannedFile,
  stateDir: string,
  state: SetupState,
  recordAfter: FileRecord | null,
): Promise<{ files: string[]; dirs: string[] }> {
  const record = file.record!;
  const done = recordAfter === null;
  const onFinish = {
    files: done && record.backupCreated && record.backup ? [record.backup] : [],
    dirs: done && file.after === undefined ? record.createdDirs : [],
  };
  await runJournaledStep(
    stateDir,
    state,
    {
      command: 'unconfigure',
      label: file.label,
      path: file.path,
      target: file.target,
      beforeSha256: file.before === undefined ? null : sha256(file.before),
      afterSha256: file.after === undefined ? null : sha256(file.after),
      backup: record.backup,
      recordBefore: record,
      recordAfter,
      onFinish,
      onRollback: { files: [], dirs: [] },
    },
    async () => {
      if (!isChange(file)) return;
      if (file.after === undefined) await removeFile(file.target, file.before, file.label);
      else if (file.restoreFrom) await restoreBackup(file.target, file.restoreFrom, file.label, file.before);
      else await writeChange(file.target, file.before, file.after, file.newMode, file.label);
    },
  );
  return onFinish;
}
