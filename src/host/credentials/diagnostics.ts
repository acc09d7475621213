import { closeSync, constants, openSync, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { HelperSettings } from '../settings/settings.ts';
import { printable } from '../../common/printable.ts';
import { redactUrlsIn } from '../../common/redact-url.ts';

// Our own lines are short; the bound is for foreign text that slipped in unbounded.
const LINE_MAX_LENGTH = 1000;

// Where the helper explains itself. Stdout belongs to the protocol, so diagnostics go to
// stderr (warnings always, debug lines with DOCKER_CREDENTIAL_DSTACK_DEBUG=1) and, when
// DOCKER_CREDENTIAL_DSTACK_LOG_FILE is set, every line to that file. Callers never pass secrets.
export interface Diagnostics {
  debug(msg: string): void;
  warn(msg: string): void;
}

// stderr may be given as a function so the stream is created only when something is said
// (creating process.stderr costs a cache hit measurable start-up time).
export function createDiagnostics(
  settings: Pick<HelperSettings, 'debug' | 'logFile'>,
  stderr: Writable | (() => Writable),
): Diagnostics {
  const err = (text: string): void => {
    (typeof stderr === 'function' ? stderr() : stderr).write(text);
  };
  const toFile = (level: string, msg: string): void => {
    if (settings.logFile === undefined) return;
    try {
      // Non-blocking: a FIFO (or a full pipe) as the log file must not hang a pull.
      const fd = openSync(
        settings.logFile,
        constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK,
        0o600,
      );
      try {
        writeSync(fd, `${new Date().toISOString()} docker-credential-dstack[${process.pid}] ${level}: ${msg}\n`);
      } finally {
        closeSync(fd);
      }
    } catch {
      // A log that cannot be written must not fail a pull.
    }
  };
  // Every line is one printable line without user info, whatever a caller put in it.
  const clean = (msg: string): string => printable(redactUrlsIn(msg), LINE_MAX_LENGTH);
  return {
    debug(msg) {
      if (!settings.debug && settings.logFile === undefined) return;
      const line = clean(msg);
      if (settings.debug) err(`docker-credential-dstack: ${line}\n`);
      toFile('debug', line);
    },
    warn(msg) {
      const line = clean(msg);
      err(`docker-credential-dstack: warning: ${line}\n`);
      toFile('warn', line);
    },
  };
}
