import type { Readable } from 'node:stream';
import { CodedError } from '../../common/errors.ts';

// Clients send a server URL or a small JSON object; anything larger is not the protocol.
export const MAX_INPUT_BYTES = 64 * 1024;

// Reads all of stdin (clients close it after writing), bounded in size.
export async function readInput(stdin: Readable, limit = MAX_INPUT_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > limit)
      throw new CodedError('input_too_large', `input on stdin is larger than ${limit} bytes: send one server URL`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
