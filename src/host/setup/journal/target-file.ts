import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import { CodedError } from '../../../common/errors.ts';

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
      throw new CodedError(
        'config_symlink_dangling',
        `${label} ${path} is a symlink to a missing file; fix the link or remove it, nothing was changed`,
      );
    });
  }
  const info = await stat(target);
  if (!info.isFile())
    throw new CodedError('config_not_file', `${label} ${path} is not a regular file; nothing was changed`);
  const bytes = await readFile(target).catch((error: NodeJS.ErrnoException) => {
    throw new CodedError('config_unreadable', `cannot read ${label} ${path}: ${error.code ?? 'error'}; run as root`);
  });
  return { shownPath: path, target, text: decodeUtf8(bytes, label, path), mode: info.mode & 0o7777 };
}

// Text we edit must come back byte for byte: invalid UTF-8 would be written back as U+FFFD.
function decodeUtf8(bytes: Uint8Array, label: string, path: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new CodedError('config_invalid', `${label} ${path} is not UTF-8 text; fix or move it, nothing was changed`);
  }
}
