import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { runHelper } from '../host/commands/dispatch.ts';
import { oneLine } from '../common/errors.ts';

// The only place that reads process.* and exits. Docker reads errors from STDOUT, so an
// unexpected failure is still one line there, never a stack trace.
// The std streams are getters: creating them loads net and stream, which a cache-hit `get`
// (reading and writing fds 0/1 directly) does without.
runHelper({
  argv: process.argv.slice(2),
  env: process.env,
  get stdin() {
    return process.stdin;
  },
  get stdout() {
    return quietOnClose(process.stdout);
  },
  get stderr() {
    return quietOnClose(process.stderr);
  },
  cwd: process.cwd(),
  stdio: 'process',
  onSignal: (signals, handler) => {
    for (const signal of signals) process.on(signal, handler);
    return () => {
      for (const signal of signals) process.off(signal, handler);
    };
  },
})
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error: unknown) => {
    process.stdout.write(`docker-credential-dstack: ${oneLine(error)}\n`);
    process.exitCode = 1;
  });

// A reader that went away (`configure --dry-run | head`) makes the stream emit EPIPE; without a
// listener Node would print a stack trace. The write that failed reports it once, as a line.
function quietOnClose(stream: Writable): Writable {
  if (stream.listenerCount('error') === 0) {
    stream.on('error', () => {
      process.exitCode ||= 1;
    });
  }
  return stream;
}

// Last resort for anything thrown outside the command's promise: one line, no stack trace.
process.on('uncaughtException', (error) => {
  try {
    writeSync(2, `docker-credential-dstack: ${oneLine(error)}\n`);
  } catch {
    // nowhere left to say it
  }
  process.exit(1);
});
