import type { Writable } from 'node:stream';
import { rm } from 'node:fs/promises';
import { write } from '../../common/command-context.ts';
import { probeWritable, writeChange, restoreBackup, removeFile } from './apply-change.ts';
import { loadSetupState, saveSetupState, mergeOwnership, sha256, type SetupState } from './setup-state.ts';
import { unifiedDiff } from './unified-diff.ts';
import { isChange, type PlannedFile } from './planned-file.ts';

// --dry-run: the diff each file would get, and a line for each file that would stay as it is.
export async function printPlan(files: PlannedFile[], stdout: Writable): Promise<void> {
  for (const file of files) {
    if (!isChange(file)) {
      await write(stdout, `${file.label} ${file.path}: unchanged (${file.summary})\n`);
      continue;
    }
    const verb = file.after === undefined ? 'would remove' : file.before === undefined ? 'would create' : 'would change';
    await write(stdout, `${file.label} ${file.path}: ${verb} (${file.summary})\n${unifiedDiff(file.path, file.before, file.after)}`);
  }
}

// Applies configure's plan: checks every directory is writable first, then writes file by
// file, recording each in the state file right after its write.
export async function applyConfigurePlan(files: PlannedFile[], stateDir: string, stdout: Writable): Promise<number> {
  const changes = files.filter(isChange);
  for (const file of changes) await probeWritable(file.target, file.label);
  if (changes.length > 0) await probeWritable(`${stateDir}/setup-state.json`, 'setup state');
  const state = await loadSetupState(stateDir);
  for (const file of files) {
    if (!isChange(file) || file.after === undefined || !file.ownership) {
      await write(stdout, `${file.label} ${file.path}: already configured\n`);
      continue;
    }
    const previous = state.files[file.path];
    // Only the first configure keeps a backup: later ones would save our own earlier output.
    const result = await writeChange(file.target, file.before, file.after, file.newMode, file.label, previous === undefined);
    state.files[file.path] = previous
      ? { ...previous, target: file.target, afterSha256: sha256(file.after), ownership: mergeOwnership(previous.ownership, file.ownership) }
      : {
          label: file.label,
          target: file.target,
          created: file.before === undefined,
          createdDirs: result.createdDirs,
          beforeSha256: file.before === undefined ? undefined : sha256(file.before),
          afterSha256: sha256(file.after),
          backup: result.backup,
          backupCreated: result.backupCreated,
          ownership: file.ownership,
        };
    await saveSetupState(stateDir, state);
    await write(stdout, `${file.label} ${file.path}: ${file.before === undefined ? 'created' : 'updated'} (${file.summary})\n`);
  }
  return changes.length;
}

// Applies unconfigure's plan: restores, edits or removes each file, then forgets it (and the
// backup configure made) in the state file.
export async function applyUnconfigurePlan(files: PlannedFile[], stateDir: string, state: SetupState, stdout: Writable): Promise<number> {
  const changes = files.filter(isChange);
  for (const file of changes) await probeWritable(file.target, file.label);
  for (const file of files) {
    const record = file.record;
    if (isChange(file)) {
      if (file.after === undefined) await removeFile(file.target, record?.createdDirs ?? [], file.label);
      else if (file.restoreFrom) await restoreBackup(file.target, file.restoreFrom, file.label, file.before);
      else await writeChange(file.target, file.before, file.after, file.newMode, file.label, false);
    }
    if (record?.backupCreated && record.backup) await rm(record.backup, { force: true });
    delete state.files[file.path];
    await saveSetupState(stateDir, state);
    const verb = !isChange(file) ? 'unchanged' : file.after === undefined ? 'removed' : file.restoreFrom ? 'restored' : 'edited';
    await write(stdout, `${file.label} ${file.path}: ${verb} (${file.summary})\n`);
  }
  return changes.length;
}
