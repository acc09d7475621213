import { write } from '../../common/command-context.ts';
import { mirrorsClearedForReload } from './engine-files/daemon-json.ts';
import { probeWritable } from './journal/apply-change.ts';
import { applyUnconfigureStep } from './apply-unconfigure.ts';
import { planUnconfigureFile } from './unconfigure-plan.ts';
import { reloadAndConfirm, type SetupIo } from './engines/reload-dockerd.ts';
import { sha256, type FileRecord, type SetupState } from './journal/setup-state.ts';
import type { PlannedFile } from './planned-file.ts';

export interface ReloadWithoutMirror {
  // daemon.json's plan from here on: from the reload text back to what unconfigure restores.
  file: PlannedFile;
  // docker info shows none of our mirrors any more.
  confirmed: boolean;
}

// dockerd's reload leaves a setting alone when its key is absent from daemon.json, so putting
// back a daemon.json that had no registry-mirrors would leave our mirror in the running daemon
// until a restart. So before the file is restored, dockerd reloads a version of it that keeps
// the key without our mirrors (a journaled step like any other, so a kill here is settled too),
// and docker info must show the mirror gone before the original bytes go back.
export async function reloadWithoutMirror(
  io: SetupIo,
  file: PlannedFile,
  pid: number,
  stateDir: string,
  state: SetupState,
): Promise<ReloadWithoutMirror> {
  const record = file.record!;
  if (record.ownership.kind !== 'daemon-json' || file.before === undefined)
    throw new Error('reloadWithoutMirror: not a daemon.json plan');
  const owned = record.ownership.mirrors;
  const cleared = mirrorsClearedForReload(file.before, owned, file.label);
  let planned = file;
  if (cleared.text !== file.before) {
    // Unchanged since configure: the reload text counts as ours, so the backup still goes back.
    const unchangedSinceConfigure = sha256(file.before) === record.afterSha256;
    const next: FileRecord = {
      ...record,
      afterSha256: unchangedSinceConfigure ? sha256(cleared.text) : record.afterSha256,
      ownership: { kind: 'daemon-json', mirrors: { ...owned, createdKey: owned.createdKey || cleared.createdKey } },
    };
    await probeWritable(file.target, file.label);
    await applyUnconfigureStep({ ...file, after: cleared.text, restoreFrom: undefined }, stateDir, state, next);
    await write(
      io.stdout,
      `${file.label} ${file.path}: "registry-mirrors" without ${owned.added.join(', ')}, for dockerd to reload (a reload keeps the mirrors when the key is absent)\n`,
    );
    planned = await planUnconfigureFile(file.path, next);
  }
  const reload = await reloadAndConfirm(io, pid, owned.added, 'absent');
  return { file: planned, confirmed: reload.confirmed };
}
