import type { Readable, Writable } from 'node:stream';

// Everything a subcommand may touch of the outside world, passed in so tests can feed
// byte buffers and a fake environment. Only src/bin/* reads process.* and exits.
export interface CommandContext {
  argv: string[];
  env: Record<string, string | undefined>;
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  cwd: string;
  // Set by src/bin when stdin/stdout are the process's own: a command may then use fds 0/1
  // directly and leave the (costly to create) stream objects unopened.
  stdio?: 'process';
  // Set by src/bin: calls `handler` on each of these signals until the returned function is
  // called (a long-running command's clean shutdown). Absent in tests that run a command in-process.
  onSignal?: (signals: NodeJS.Signals[], handler: (signal: NodeJS.Signals) => void) => () => void;
}

// A subcommand returns its exit status; it never calls process.exit.
export type Command = (ctx: CommandContext) => Promise<number>;

export function write(stream: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, (error) => (error ? reject(error) : resolve()));
  });
}
