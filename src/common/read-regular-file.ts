import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

// What reading a small file found. Anything but a regular file is reported, never read: a
// FIFO would block the process forever (whatever its time budget), a device or a socket is
// not a file someone meant to give us.
export type FileRead =
  | { kind: 'file'; text: string; stats: Stats }
  | { kind: 'missing' }
  | { kind: 'not_regular'; what: string }
  | { kind: 'too_large'; size: number }
  | { kind: 'unreadable'; code: string };

export interface ReadRegularFileOptions {
  maxBytes: number;
  // false (default): a symbolic link is reported as one, not followed (O_NOFOLLOW).
  followLinks?: boolean;
}

// Opens with O_NONBLOCK (a FIFO opens at once instead of waiting for a writer), checks the
// opened file with fstat (no race between check and read) and reads at most maxBytes.
export function readRegularFile(path: string, options: ReadRegularFileOptions): FileRead {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (options.followLinks ? 0 : constants.O_NOFOLLOW));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    if (code === 'ELOOP') return { kind: 'not_regular', what: 'a symbolic link' };
    if (code === 'ENXIO') return { kind: 'not_regular', what: 'a socket' };
    return { kind: 'unreadable', code };
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return { kind: 'not_regular', what: kindOf(stats) };
    if (stats.size > options.maxBytes) return { kind: 'too_large', size: stats.size };
    // The size may grow while we read: never take more than the bound.
    const buffer = Buffer.allocUnsafe(options.maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    if (length > options.maxBytes) return { kind: 'too_large', size: length };
    return { kind: 'file', text: buffer.toString('utf8', 0, length), stats };
  } catch (error) {
    return { kind: 'unreadable', code: (error as NodeJS.ErrnoException).code ?? 'error' };
  } finally {
    closeSync(fd);
  }
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

// For messages: 2097152 → "2 MiB", 9000 → "8.8 KiB".
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${+(bytes / 1024 / 1024).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}
