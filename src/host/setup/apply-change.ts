import { access, mkdir, open, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { atomicWrite } from '../../common/atomic-write.ts';
import { CodedError } from '../../common/errors.ts';

export const BACKUP_SUFFIX = '.dstack-backup';

export interface WriteResult {
  backup?: string;
  backupCreated: boolean;
  createdDirs: string[];
}

// Proves a file can be written before anything is: creates and removes a probe file in the
// directory (or the nearest existing parent), which also catches read-only mounts and
// immutable directories that permission bits do not show.
export async function probeWritable(path: string, label: string): Promise<void> {
  let dir = dirname(path);
  while (!(await exists(dir)) && dirname(dir) !== dir) dir = dirname(dir);
  const probe = join(dir, `.dstack-probe.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    const handle = await open(probe, 'wx', 0o600);
    await handle.close();
    await rm(probe, { force: true });
  } catch (error) {
    throw writeError(error, label, path, 'nothing was changed');
  }
}

// One write of the apply step: parent directories created as needed, the previous content
// kept once as <file>.dstack-backup (same mode and owner), then an atomic replace that keeps
// the file's mode and owner (src/common/atomic-write.ts).
export async function writeChange(target: string, before: string | undefined, after: string, newMode: number, label: string, keepBackup = true): Promise<WriteResult> {
  const result: WriteResult = { backupCreated: false, createdDirs: [] };
  await expectUnchanged(target, before, label);
  try {
    result.createdDirs = await makeDirs(dirname(target));
    if (before !== undefined && keepBackup) {
      const backup = `${target}${BACKUP_SUFFIX}`;
      result.backup = backup;
      if (!(await exists(backup))) {
        const info = await stat(target);
        await atomicWrite(backup, before, { mode: info.mode & 0o7777, uid: info.uid, gid: info.gid });
        result.backupCreated = true;
      }
    }
    await atomicWrite(target, after, before === undefined ? { mode: newMode } : {});
  } catch (error) {
    throw writeError(error, label, target, 'the file itself is unchanged');
  }
  return result;
}

export async function restoreBackup(target: string, backup: string, label: string, before: string | undefined): Promise<void> {
  await expectUnchanged(target, before, label);
  try {
    const info = await stat(target);
    await atomicWrite(target, await readFile(backup), { mode: info.mode & 0o7777, uid: info.uid, gid: info.gid });
  } catch (error) {
    throw writeError(error, label, target, 'the file itself is unchanged');
  }
}

export async function removeFile(target: string, createdDirs: string[], label: string): Promise<void> {
  try {
    await rm(target, { force: true });
    for (const dir of [...createdDirs].sort((a, b) => b.length - a.length)) await rmdir(dir).catch(() => {});
  } catch (error) {
    throw writeError(error, label, target, 'nothing was removed');
  }
}

// The plan was made from what the file held then; another program (or a second configure)
// may have written it since, while dockerd validated or docker info answered. Never clobber that.
async function expectUnchanged(target: string, before: string | undefined, label: string): Promise<void> {
  const now = await readFile(target, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : before));
  if (now !== before) {
    throw new CodedError('config_changed', `${label} ${target} was changed by something else while this command ran; it was left as it is, run the command again`);
  }
}

async function makeDirs(dir: string): Promise<string[]> {
  const created: string[] = [];
  let current = dir;
  while (!(await exists(current))) {
    created.unshift(current);
    current = dirname(current);
  }
  for (const path of created) await mkdir(path, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  return created;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

function writeError(error: unknown, label: string, path: string, state: string): CodedError {
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  const hint = code === 'EACCES' || code === 'EPERM' ? 'run as root, or point the option for this file elsewhere' : code === 'EROFS' ? 'the file system is read-only' : 'check the directory';
  return new CodedError('write_failed', `cannot write ${label} ${path} (${code}): ${hint}; ${state}`, { cause: error });
}
