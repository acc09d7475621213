import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { fdIo } from '../../../src/host/protocol/fd-io.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dcd-fdio-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

// A client whose stdin pipe is non-blocking and writes the server URL in two parts: the part
// read before EAGAIN is kept and the rest comes through the stream.
it('a non-blocking stdin that has only part of the input yet: the whole input, nothing lost', async () => {
  const fifo = join(dir, 'stdin');
  execFileSync('mkfifo', [fifo]);
  const readEnd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeEnd = openSync(fifo, constants.O_WRONLY);
  writeSync(writeEnd, 'https://index');
  setTimeout(() => {
    writeSync(writeEnd, '.docker.io/v1/\r\n');
    closeSync(writeEnd);
  }, 50);
  const socket = new Socket({ fd: readEnd, readable: true, writable: false });
  try {
    expect(await fdIo(() => socket, readEnd).readInput()).toBe('https://index.docker.io/v1/\r\n');
  } finally {
    socket.destroy();
  }
});
