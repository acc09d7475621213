import { access, constants, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { atomicWrite } from '../../../common/atomic-write.ts';
import { CodedError } from '../../../common/errors.ts';

export const BACKUP_SUFFIX = '.dstack-backup';

// Proves a file can be written before anything is: the kernel's own answer for the directory
// (or the nearest existing parent), which covers read-only mounts (EROFS) and immutable
// directories (EPERM) that permission bits do not show, and leaves nothing behind if killed.
export async function probeWritable(path: string, label: string): Promise<void> {
  let dir = dirname(path);
  while (!(await exists(dir)) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw writeError(error, label, path, 'nothing was changed');
  }
}

// The directories above `path`'s file that do not exist yet, top down: a write creates them.
export async function missingDirs(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let current = dir; !(await exists(current)); current = dirname(current)) {
    missing.unshift(current);
    if (dirname(current) === current) break;
  }
  return missing;
}

// One write of the apply step: parent directories created as needed, the previous content
// kept as `backup` (same mode and owner) unless that file exists, then an atomic replace that
// keeps the file's mode and owner (src/common/atomic-write.ts).
export async function writeChange(
  target: string,
  before: string | undefined,
  after: string,
  newMode: number,
  label: string,
  backup?: string,
): Promise<void> {
  await expectUnchanged(target, before, label);
  try {
    for (const dir of await missingDirs(dirname(target))) {
      await mkdir(dir, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
    }
    if (before !== undefined && backup !== undefined && !(await exists(backup))) {
      const info = await stat(target);
      await atomicWrite(backup, before, { mode: info.mode & 0o7777, uid: info.uid, gid: info.gid });
    }
    await atomicWrite(target, after, before === undefined ? { mode: newMode } : {});
  } catch (error) {
    throw writeError(error, label, target, 'the file itself is unchanged');
  }
}

export async function restoreBackup(
  target: string,
  backup: string,
  label: string,
  before: string | undefined,
): Promise<void> {
  await expectUnchanged(target, before, label);
  try {
    const info = await stat(target);
    await atomicWrite(target, await readFile(backup), { mode: info.mode & 0o7777, uid: info.uid, gid: info.gid });
  } catch (error) {
    throw writeError(error, label, target, 'the file itself is unchanged');
  }
}

export async function removeFile(target: string, before: string | undefined, label: string): Promise<void> {
  await expectUnchanged(target, before, label);
  try {
    await rm(target, { force: true });
  } catch (error) {
    throw writeError(error, label, target, 'nothing was removed');
  }
}

// The plan was made from what the file held then; another program (or a second configure)
// may have written it since, while dockerd validated or docker info answered. Never clobber that.
async function expectUnchanged(target: string, before: string | undefined, label: string): Promise<void> {
  const now = await readFile(target, 'utf8').catch((error: NodeJS.ErrnoException) =>
    error.code === 'ENOENT' ? undefined : before,
  );
  if (now !== before) {
    throw new CodedError(
      'config_changed',
      `${label} ${target} was changed by something else while this command ran; it was left as it is, run the command again`,
    );
  }
}

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function writeError(error: unknown, label: string, path: string, state: string): CodedError {
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  const hint =
    code === 'EACCES' || code === 'EPERM'
      ? 'run as root, or point the option for this file elsewhere'
      : code === 'EROFS'
        ? 'the file system is read-only'
        : 'check the directory';
  return new CodedError('write_failed', `cannot write ${label} ${path} (${code}): ${hint}; ${state}`, { cause: error });
}
