import { write } from 'node:fs';

// Lines to a file descriptor (the endpoint's stderr) without blocking the event loop: Node
// writes to process.stderr synchronously when it is a file or a pipe, which for one line per
// pull request cost more than the rest of a warm manifest request on a busy host. Lines are
// queued and written in order, one write at a time, whatever has gathered meanwhile in one.
export interface LineWriter {
  write(text: string): void;
  // Resolves once everything queued so far is written (or has failed).
  flush(): Promise<void>;
}

export function fdLineWriter(fd: number): LineWriter {
  let pending: string[] = [];
  let writing = false;
  let waiters: Array<() => void> = [];

  const next = (): void => {
    if (pending.length === 0) {
      writing = false;
      const done = waiters;
      waiters = [];
      for (const resolve of done) resolve();
      return;
    }
    writing = true;
    const buffer = Buffer.from(pending.join(''), 'utf8');
    pending = [];
    writeAll(buffer, 0);
  };

  const writeAll = (buffer: Buffer, offset: number): void => {
    write(fd, buffer, offset, buffer.length - offset, null, (error, written) => {
      if (error) {
        // A non-blocking pipe that is full: try again shortly; anything else: the line is lost
        // (a log that cannot be written must not stop the pulls).
        if (error.code === 'EAGAIN') return void setTimeout(() => writeAll(buffer, offset), 5);
        return next();
      }
      if (offset + written < buffer.length) return writeAll(buffer, offset + written);
      next();
    });
  };

  return {
    write(text) {
      pending.push(text);
      if (!writing) next();
    },
    flush() {
      if (!writing && pending.length === 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}
