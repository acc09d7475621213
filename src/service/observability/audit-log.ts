import { closeSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { CodedError } from '../../common/errors.ts';
import { makeDirectorySync } from '../../common/make-directory.ts';
import type { AuditEvent, AuditLog, Clock } from '../core/ports.ts';

// Field order of every line; nothing else is ever written, so a secret cannot ride along
// in an unexpected property.
const FIELDS = [
  'event',
  'outcome',
  'instance',
  'project',
  'registry',
  'repository',
  'source',
  'reason',
  'scope',
  'service',
] as const;
const MAX_FIELD_LENGTH = 512;

export interface AuditLogOptions {
  // Appended to (created 0600); wins over `stream`.
  path?: string;
  stream?: Writable;
  clock: Clock;
}

// One JSON line per decision: {time, event, outcome, instance, project, registry, repository,
// source, reason, scope, service}. Lines go to the file with one synchronous append each, so they
// are never interleaved with another process's (the `issue-token` command) and are on disk
// before the response leaves. With neither path nor stream, records are dropped.
export function createAuditLog(options: AuditLogOptions): AuditLog & { close(): void } {
  let fd: number | undefined;
  if (options.path) {
    try {
      makeDirectorySync(dirname(options.path), 0o700, 0o755);
      fd = openSync(options.path, 'a', 0o600);
    } catch (error) {
      throw new CodedError(
        'audit_log_unavailable',
        `cannot open the audit log ${options.path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); check the audit log path and its directory's permissions`,
      );
    }
  }
  const path = options.path;
  const stream = options.path ? undefined : options.stream;
  return {
    record(event: AuditEvent) {
      const line = `${formatAuditLine(event, options.clock())}\n`;
      if (fd !== undefined) {
        try {
          writeSync(fd, line);
        } catch (error) {
          // Fail closed: an issuance that cannot be audited is answered with an error.
          throw new CodedError(
            'audit_log_unavailable',
            `cannot write to the audit log ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); check free space`,
          );
        }
      } else {
        stream?.write(line);
      }
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

export function formatAuditLine(event: AuditEvent, time: Date): string {
  const line: Record<string, string> = { time: time.toISOString() };
  for (const field of FIELDS) {
    const value: unknown = event[field];
    if (value === undefined || value === null) continue;
    // A non-string (a Secret passed by mistake) is written as its string form: "[redacted]".
    const text = typeof value === 'string' ? value : String(value);
    line[field] = text.length > MAX_FIELD_LENGTH ? `${text.slice(0, MAX_FIELD_LENGTH)}…` : text;
  }
  return JSON.stringify(line);
}
