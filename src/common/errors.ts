// Every failure a user can see is a CodedError: a stable code (for tests, HTTP mapping and
// exit statuses) and a one-line message that names the cause and what to do. Nothing else
// is ever printed to a user, so no stack trace leaks.
export class CodedError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'CodedError';
  }
}

export function isCodedError(value: unknown, code?: string): value is CodedError {
  return value instanceof CodedError && (code === undefined || value.code === code);
}

// One line, whatever was thrown: used by the single place in each binary that exits.
export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s*\n\s*/g, ' ').trim() || 'unknown error';
}
