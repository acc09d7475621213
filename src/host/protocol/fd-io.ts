import { readSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { CodedError } from '../../common/errors.ts';
import type { ProtocolIo } from './protocol-io.ts';
import { MAX_INPUT_BYTES, readInput } from './read-input.ts';

// Straight on file descriptors 0 and 1, for the real process: Node's process.stdin/stdout
// streams load the net and stream modules, a measurable part of a cache hit's start-up.
// A descriptor in non-blocking mode (EAGAIN) falls back to the stream, keeping what was read.
export function fdIo(fallbackStdin: () => Readable, inFd = 0, outFd = 1): ProtocolIo {
  return {
    async readInput() {
      const chunks: Buffer[] = [];
      let size = 0;
      for (;;) {
        const buffer = Buffer.allocUnsafe(4096);
        let read: number;
        try {
          read = readSync(inFd, buffer, 0, buffer.length, null);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          // Non-blocking and not all written yet: the stream waits for the rest.
          if (code === 'EAGAIN')
            return Buffer.concat([
              ...chunks,
              Buffer.from(await readInput(fallbackStdin(), MAX_INPUT_BYTES - size)),
            ]).toString('utf8');
          if (code === 'EOF') break;
          throw error;
        }
        if (read === 0) break;
        size += read;
        if (size > MAX_INPUT_BYTES)
          throw new CodedError(
            'input_too_large',
            `input on stdin is larger than ${MAX_INPUT_BYTES} bytes: send one server URL`,
          );
        chunks.push(buffer.subarray(0, read));
      }
      return Buffer.concat(chunks).toString('utf8');
    },
    async write(text) {
      const bytes = Buffer.from(text);
      let offset = 0;
      while (offset < bytes.length) {
        try {
          offset += writeSync(outFd, bytes, offset);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }
    },
  };
}
