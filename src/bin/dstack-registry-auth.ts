import { runServerCli } from '../service/commands/dispatch.ts';
import { oneLine } from '../common/errors.ts';

// The only place that reads process.* and exits for the service binary.
runServerCli({
  argv: process.argv.slice(2),
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
})
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error: unknown) => {
    process.stderr.write(`dstack-registry-auth: ${oneLine(error)}\n`);
    process.exitCode = 1;
  });
