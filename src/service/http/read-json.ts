import type { IncomingMessage } from 'node:http';
import { CodedError } from '../../common/errors.ts';
import { readBody } from './http-io.ts';

// The contract's request body limit.
export const BODY_LIMIT_BYTES = 16 * 1024;

// A JSON object body, or bad_request / payload_too_large.
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  return parseJsonObject(await readBody(req, BODY_LIMIT_BYTES));
}

// Parses a body already read (so a route can authenticate between reading and parsing).
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(body.toString('utf8'));
  } catch {
    throw new CodedError('bad_request', 'request body is not valid JSON; send a JSON object');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new CodedError('bad_request', 'request body must be a JSON object');
  return data as Record<string, unknown>;
}
