import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import { CodedError } from '../../common/errors.ts';

export interface TargetFile {
  shownPath: string;
  target: string;
  text: string | undefined;
  mode?: number;
}

// Reads a config file for editing. A symlink is followed and the write goes to its target (the
// link stays a link, as when /etc/docker lives on another volume); a dangling link is refused.
export async function readTarget(path: string, label: string): Promise<TargetFile> {
  const link = await lstat(path).catch(() => undefined);
  if (!link) return { shownPath: path, target: path, text: undefined };
  let target = path;
  if (link.isSymbolicLink()) {
    target = await realpath(path).catch(() => {
      throw new CodedError('config_symlink_dangling', `${label} ${path} is a symlink to a missing file; fix the link or remove it, nothing was changed`);
    });
  }
  const info = await stat(target);
  if (!info.isFile()) throw new CodedError('config_not_file', `${label} ${path} is not a regular file; nothing was changed`);
  const text = await readFile(target, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new CodedError('config_unreadable', `cannot read ${label} ${path}: ${error.code ?? 'error'}; run as root`);
  });
  return { shownPath: path, target, text, mode: info.mode & 0o7777 };
}
