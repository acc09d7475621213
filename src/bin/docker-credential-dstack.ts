import { runHelper } from '../cli/helper/dispatch.ts';
import { oneLine } from '../shared/errors.ts';

// The only place that reads process.* and exits. Docker reads errors from STDOUT, so an
// unexpected failure is still one line there, never a stack trace.
runHelper({ argv: process.argv.slice(2), env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() })
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error: unknown) => {
    process.stdout.write(`docker-credential-dstack: ${oneLine(error)}\n`);
    process.exitCode = 1;
  });
