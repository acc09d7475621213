import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Diagnostics } from '../../credentials/diagnostics.ts';
import { fdLineWriter, type LineWriter } from './fd-line-writer.ts';

// The endpoint's log: one line per pull request and per failure on stderr (journald adds the
// time under systemd) and, with DOCKER_CREDENTIAL_DSTACK_LOG_FILE, in that file with time and
// pid, as the helper's diagnostics write it. Also the Diagnostics that resolveCredential
// reports through. Callers never pass a secret.
export interface MirrorLog extends Diagnostics {
  info(msg: string): void;
  close(): Promise<void>;
}

// `stderr` is a stream, or (when it is the process's own) a LineWriter on fd 2.
export function createMirrorLog(options: {
  stderr: Writable | LineWriter;
  logFile?: string;
  debug: boolean;
  pid: number;
}): MirrorLog {
  const toStderr = (level: string, msg: string): void =>
    void options.stderr.write(`docker-credential-dstack mirror: ${level === 'warn' ? 'warning: ' : ''}${msg}\n`);
  const opened = options.logFile === undefined ? undefined : openLogFile(options.logFile);
  if (typeof opened === 'string') toStderr('warn', opened);
  const file = typeof opened === 'number' ? { fd: opened, writer: fdLineWriter(opened) } : undefined;
  const line = (level: string, msg: string, stderr: boolean): void => {
    if (stderr) toStderr(level, msg);
    file?.writer.write(
      `${new Date().toISOString()} docker-credential-dstack[${options.pid}] ${level}: mirror: ${msg}\n`,
    );
  };
  return {
    info: (msg) => line('info', msg, true),
    warn: (msg) => line('warn', msg, true),
    debug: (msg) => line('debug', msg, options.debug),
    close: async () => {
      if ('flush' in options.stderr) await options.stderr.flush();
      if (!file) return;
      await file.writer.flush();
      closeSync(file.fd);
    },
  };
}

// Opened here without blocking and checked to be a regular file: opening or writing a FIFO
// from Node's thread pool would hang a worker thread (and with it file I/O) for good. Anything
// else is refused with one line, and the endpoint logs to stderr only (the pulls go on).
function openLogFile(path: string): number | string {
  const refused = (why: string): string =>
    `not writing the log file ${path}: ${why}; point DOCKER_CREDENTIAL_DSTACK_LOG_FILE at a regular file`;
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK, 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return refused(code === 'ENXIO' ? 'it is a FIFO or a socket, not a regular file' : `cannot open it (${code})`);
  }
  const stats = fstatSync(fd);
  if (stats.isFile()) return fd;
  closeSync(fd);
  return refused(
    `it is ${stats.isFIFO() ? 'a FIFO' : stats.isDirectory() ? 'a directory' : 'a device or socket'}, not a regular file`,
  );
}
