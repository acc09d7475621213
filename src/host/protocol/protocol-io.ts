import type { Readable, Writable } from 'node:stream';
import { readInput } from './read-input.ts';

// The two things the protocol does with the outside world: read all of stdin, write stdout.
export interface ProtocolIo {
  readInput(): Promise<string>;
  write(text: string): Promise<void>;
}

// Over streams: what tests and embedding callers pass.
export function streamIo(stdin: Readable, stdout: Writable): ProtocolIo {
  return {
    readInput: () => readInput(stdin),
    write: (text) =>
      new Promise((resolve, reject) => {
        stdout.write(text, (error) => (error ? reject(error) : resolve()));
      }),
  };
}
