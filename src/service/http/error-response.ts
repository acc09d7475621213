import type { ServerResponse } from 'node:http';
import { CodedError, oneLine } from '../../common/errors.ts';
import { sendError } from './http-io.ts';
import { ERROR_STATUS, isServiceErrorCode } from '../../contract/error-codes.ts';
import { VendorFailure } from '../core/vendor-failure.ts';

const GENERIC: Record<string, string> = {
  unavailable: 'dstack-registry-auth is temporarily unavailable; retry later',
  internal: 'internal error in dstack-registry-auth; the service log has the cause',
};

// Answers with the contract's error body and returns the code it sent, for metrics and audit.
// Unknown failures are logged (one line, no stack) and answered with a generic message, so
// neither a stack trace nor an internal detail reaches the client.
export function sendFailure(res: ServerResponse, error: unknown, log: (line: string) => void): string {
  const coded = error instanceof CodedError && isServiceErrorCode(error.code) ? error : undefined;
  if (!coded) {
    log(
      `internal error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`.replace(
        /\s*\n\s*/g,
        ' ',
      ),
    );
    if (!res.headersSent) sendError(res, 500, 'internal', GENERIC.internal!);
    else res.destroy();
    return 'internal';
  }
  const status: number = ERROR_STATUS[coded.code as keyof typeof ERROR_STATUS];
  // Server-side failures name internals (store URLs, paths): those go to the log only. A cloud
  // vendor's refusal is written for the host (src/service/core/vendor-failure.ts).
  const vendor = coded instanceof VendorFailure ? coded : undefined;
  const message = status >= 500 && !vendor ? (GENERIC[coded.code] ?? GENERIC.internal!) : coded.message;
  // A vendor's refusal was logged once, with the vendor's own words, where it was minted.
  if (status >= 500 && !vendor) log(`${coded.code}: ${oneLine(coded)}`);
  const headers: Record<string, string> = {};
  if (coded.code.startsWith('token_')) headers['www-authenticate'] = 'Bearer realm="dstack-registry-auth"';
  if (vendor) {
    if (vendor.retryAfterSeconds !== undefined) headers['retry-after'] = String(vendor.retryAfterSeconds);
  } else if (coded.code === 'unavailable') headers['retry-after'] = '5';
  if (coded.code === 'payload_too_large') headers.connection = 'close';
  if (!res.headersSent) sendError(res, status, coded.code, message, headers);
  else res.destroy();
  return coded.code;
}
