import { readFile } from 'node:fs/promises';
import { readTarget } from './journal/target-file.ts';
import { removeCredHelpers } from './engine-files/docker-client-config.ts';
import { removeRegistryMirrors } from './engine-files/daemon-json.ts';
import { removeBlock } from './formats/managed-block.ts';
import { removeCriConfigPath } from './engine-files/containerd-config.ts';
import { parseJsonObject } from './formats/json-document.ts';
import { sha256, type FileRecord, type SetupState } from './journal/setup-state.ts';
import type { PlannedFile } from './planned-file.ts';

// For each file configure recorded: unchanged since configure → put back exactly what was there
// (the backup, or no file at all); changed since → remove only our entries from it. Last written,
// first undone: a directory an earlier file created (etc/containerd for certs.d) is empty again
// only once a later file in it (config.toml) is gone.
export async function planUnconfigure(state: SetupState): Promise<PlannedFile[]> {
  const files: PlannedFile[] = [];
  for (const [path, record] of Object.entries(state.files).reverse())
    files.push(await planUnconfigureFile(path, record));
  return files;
}

// One file: also for a file whose record changed during unconfigure (reload-without-mirror.ts).
export async function planUnconfigureFile(path: string, record: FileRecord): Promise<PlannedFile> {
  const file = await readTarget(path, record.label);
  const base = { label: record.label, path, target: file.target, before: file.text, newMode: 0o644, record };
  if (file.text === undefined) return { ...base, after: undefined, summary: 'already gone' };
  if (sha256(file.text) === record.afterSha256) {
    if (record.created) return { ...base, after: undefined, summary: 'configure created it' };
    const backup = record.backup ? await readFile(record.backup, 'utf8').catch(() => undefined) : undefined;
    if (backup !== undefined && record.beforeSha256 === sha256(backup)) {
      return { ...base, after: backup, restoreFrom: record.backup, summary: 'as it was before configure' };
    }
  }
  const after = removeOurs(file.text, record, path);
  if (record.created && isEmpty(after, record))
    return { ...base, after: undefined, summary: 'configure created it; nothing else is in it' };
  return {
    ...base,
    after,
    summary: after === file.text ? 'nothing of ours left in it' : 'only our entries removed, the rest kept as it is',
  };
}

function removeOurs(text: string, record: FileRecord, label: string): string {
  const owned = record.ownership;
  if (owned.kind === 'docker-config') return removeCredHelpers(text, owned.credHelpers, label);
  if (owned.kind === 'daemon-json') return removeRegistryMirrors(text, owned.mirrors, label);
  if (owned.kind === 'containerd-config') return removeCriConfigPath(text, owned.replacedLine);
  return removeBlock(text);
}

function isEmpty(text: string, record: FileRecord): boolean {
  if (record.ownership.kind === 'toml-block' || record.ownership.kind === 'containerd-config')
    return text.trim() === '';
  try {
    return Object.keys(parseJsonObject(text, record.label)).length === 0;
  } catch {
    return false;
  }
}
