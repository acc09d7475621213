import { appendFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { HelperSettings } from './settings.ts';

// Where the helper explains itself. Stdout belongs to the protocol, so diagnostics go to
// stderr (warnings always, debug lines with DOCKER_CREDENTIAL_DSTACK_DEBUG=1) and, when
// DOCKER_CREDENTIAL_DSTACK_LOG_FILE is set, every line to that file. Callers never pass secrets.
export interface Diagnostics {
  debug(msg: string): void;
  warn(msg: string): void;
}

// stderr may be given as a function so the stream is created only when something is said
// (creating process.stderr costs a cache hit measurable start-up time).
export function createDiagnostics(settings: Pick<HelperSettings, 'debug' | 'logFile'>, stderr: Writable | (() => Writable)): Diagnostics {
  const err = (text: string): void => {
    (typeof stderr === 'function' ? stderr() : stderr).write(text);
  };
  const toFile = (level: string, msg: string): void => {
    if (settings.logFile === undefined) return;
    try {
      appendFileSync(settings.logFile, `${new Date().toISOString()} docker-credential-dstack[${process.pid}] ${level}: ${msg}\n`, { mode: 0o600 });
    } catch {
      // A log that cannot be written must not fail a pull.
    }
  };
  return {
    debug(msg) {
      if (settings.debug) err(`docker-credential-dstack: ${msg}\n`);
      toFile('debug', msg);
    },
    warn(msg) {
      err(`docker-credential-dstack: warning: ${msg}\n`);
      toFile('warn', msg);
    },
  };
}
