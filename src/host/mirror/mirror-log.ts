import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Diagnostics } from '../helper/diagnostics.ts';
import type { LineWriter } from './fd-line-writer.ts';

// The endpoint's log: one line per pull request and per failure on stderr (journald adds the
// time under systemd) and, with DOCKER_CREDENTIAL_DSTACK_LOG_FILE, in that file with time and
// pid, as the helper's diagnostics write it. Also the Diagnostics that resolveCredential
// reports through. Callers never pass a secret.
export interface MirrorLog extends Diagnostics {
  info(msg: string): void;
  close(): Promise<void>;
}

// `stderr` is a stream, or (when it is the process's own) a LineWriter on fd 2.
export function createMirrorLog(options: { stderr: Writable | LineWriter; logFile?: string; debug: boolean; pid: number }): MirrorLog {
  let file: WriteStream | undefined;
  if (options.logFile !== undefined) {
    file = createWriteStream(options.logFile, { flags: 'a', mode: 0o600 });
    // A log that cannot be written must not stop the pulls.
    file.on('error', () => {
      file = undefined;
    });
  }
  const line = (level: string, msg: string, toStderr: boolean): void => {
    if (toStderr) options.stderr.write(`docker-credential-dstack mirror: ${level === 'warn' ? 'warning: ' : ''}${msg}\n`);
    file?.write(`${new Date().toISOString()} docker-credential-dstack[${options.pid}] ${level}: mirror: ${msg}\n`);
  };
  return {
    info: (msg) => line('info', msg, true),
    warn: (msg) => line('warn', msg, true),
    debug: (msg) => line('debug', msg, options.debug),
    close: async () => {
      if ('flush' in options.stderr) await options.stderr.flush();
      await new Promise<void>((resolve) => {
        if (!file) return resolve();
        file.end(() => resolve());
      });
    },
  };
}
