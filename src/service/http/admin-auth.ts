import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Secret } from '../../common/secret.ts';
import { CodedError } from '../../common/errors.ts';
import { bearerToken } from './http-io.ts';

// Checks the admin bearer token in constant time (digests first, so length leaks nothing).
// Without an admin token configured the admin API does not exist: not_found.
export function requireAdmin(req: IncomingMessage, adminToken: Secret | undefined): void {
  if (!adminToken)
    throw new CodedError(
      'not_found',
      'no such endpoint: the admin API is off until DSTACK_REGISTRY_AUTH_ADMIN_TOKEN is set',
    );
  const presented = bearerToken(req);
  if (presented === undefined)
    throw new CodedError('token_missing', 'no admin token: send Authorization: Bearer <admin token>');
  const expected = createHash('sha256').update(adminToken.reveal()).digest();
  const actual = createHash('sha256').update(presented).digest();
  if (!timingSafeEqual(expected, actual)) throw new CodedError('token_invalid', 'admin token rejected');
}
