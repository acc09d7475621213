import { runHelper } from '../cli/helper/dispatch.ts';
import { oneLine } from '../shared/errors.ts';

// The only place that reads process.* and exits. Docker reads errors from STDOUT, so an
// unexpected failure is still one line there, never a stack trace.
// The std streams are getters: creating them loads net and stream, which a cache-hit `get`
// (reading and writing fds 0/1 directly) does without.
runHelper({
  argv: process.argv.slice(2),
  env: process.env,
  get stdin() { return process.stdin; },
  get stdout() { return process.stdout; },
  get stderr() { return process.stderr; },
  cwd: process.cwd(),
  stdio: 'process',
})
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error: unknown) => {
    process.stdout.write(`docker-credential-dstack: ${oneLine(error)}\n`);
    process.exitCode = 1;
  });
