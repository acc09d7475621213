import type { KnownErrorCode } from '../common/error-code.ts';
import { CodedError } from '../common/errors.ts';

// The contract's error codes and the HTTP status each one is sent with (docs/contract.md).
// The service answers with these; the helper recognises exactly these. There is no 429: the
// service sheds no load (a boot storm is absorbed by the hosts' caches, single flight and cheap
// issuance), and a 429 from a proxy in front is the helper's `rate_limited` (service-errors.ts).
export const ERROR_STATUS = {
  bad_request: 400,
  token_missing: 401,
  token_invalid: 401,
  token_expired: 401,
  token_revoked: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  internal: 500,
  unavailable: 503,
} as const satisfies Partial<Record<KnownErrorCode, number>>;

export type ServiceErrorCode = keyof typeof ERROR_STATUS;

export function isServiceErrorCode(value: unknown): value is ServiceErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value);
}

// "Is the service down, or did it refuse?", decided here only, by code (in the spirit of
// docker-credential-helpers' IsErrCredentialsNotFound matchers).

// No answer to act on: not reached, too slow, untrusted TLS, an answer that breaks the
// contract, the service saying it cannot answer now (503, 500), or a proxy in front rate
// limiting (429). A cached credential
// may stand in, and the failure policy applies.
const SERVICE_UNREACHABLE = new Set<KnownErrorCode>([
  'unreachable',
  'timeout',
  'tls',
  'bad_response',
  'rate_limited',
  'unavailable',
  'internal',
]);

export function isServiceUnreachable(error: unknown): boolean {
  return error instanceof CodedError && SERVICE_UNREACHABLE.has(error.code as KnownErrorCode);
}

// The service answered and refused this host: its instance token (every token_* code, a
// missing or malformed token file on this host included), its project's access (forbidden),
// or its request. An answer, so a cached credential must not outlive it.
const REFUSALS = new Set<KnownErrorCode>(['forbidden', 'bad_request', 'payload_too_large']);

export function isRefused(error: unknown): boolean {
  return error instanceof CodedError && (REFUSALS.has(error.code as KnownErrorCode) || error.code.startsWith('token_'));
}

// This host cannot ask at all: no server configured, or its settings unreadable or wrong.
const HOST_NOT_CONFIGURED = new Set<KnownErrorCode>(['not_configured', 'config_invalid', 'config_unreadable']);

export function isHostNotConfigured(error: unknown): boolean {
  return error instanceof CodedError && HOST_NOT_CONFIGURED.has(error.code as KnownErrorCode);
}
