// The contract's error codes and the HTTP status each one is sent with (docs/contract.md).
// The service answers with these; the helper recognises exactly these.
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
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const satisfies Record<string, number>;

export type ServiceErrorCode = keyof typeof ERROR_STATUS;

export function isServiceErrorCode(value: unknown): value is ServiceErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value);
}
