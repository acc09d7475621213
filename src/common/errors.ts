import type { ErrorCode } from './error-code.ts';
import { printable } from './printable.ts';
import { redactUrlsIn } from './redact-url.ts';

// Every failure a user can see is a CodedError: a stable code (for tests, HTTP mapping and
// exit statuses; the known ones are listed in error-code.ts) and a one-line message that names
// the cause and what to do. Nothing else is ever printed to a user, so no stack trace leaks.
// Decisions read the code (isCodedError, and src/contract/error-codes.ts's predicates), never
// the message.
export class CodedError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'CodedError';
  }
}

export function isCodedError(value: unknown, code?: ErrorCode): value is CodedError {
  return value instanceof CodedError && (code === undefined || value.code === code);
}

// Longer than any message of ours: the bound is for foreign text that slipped in unbounded.
const MESSAGE_MAX_LENGTH = 1000;

// One printable line, whatever was thrown, user info of URLs hidden: what the binaries print
// of an error (stdout, stderr, the log), so no message can carry a terminal escape or a password.
export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return printable(redactUrlsIn(text.trim()), MESSAGE_MAX_LENGTH).trim() || 'unknown error';
}
