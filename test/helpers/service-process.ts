import { builtBinary } from './repo-root.ts';
import { existsSync } from 'node:fs';
import { execa, type ResultPromise } from 'execa';

// The built service binary, as operators run it.
export const SERVICE_BINARY = builtBinary('dstack-registry-auth');

export function assertServiceBinaryBuilt(): void {
  if (!existsSync(SERVICE_BINARY))
    throw new Error(
      `${SERVICE_BINARY} is missing: run \`npm run -s build:binary -- --host-only\` (npm test does it first)`,
    );
}

export interface ServiceProcess {
  url: string;
  child: ResultPromise;
  // Everything written to stderr so far (the listening line, audit lines, log lines).
  stderr(): string;
  // SIGTERM (or the given signal) and the exit code.
  stop(signal?: NodeJS.Signals): Promise<number | undefined>;
}

// Runs `dstack-registry-auth serve ARGS` with only the given environment and resolves once it
// printed its listening line; rejects with its stderr if it exits first.
export async function startServiceBinary(args: string[], env: Record<string, string>): Promise<ServiceProcess> {
  assertServiceBinaryBuilt();
  const child = execa(SERVICE_BINARY, ['serve', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start within 15 s:\n${err}`)), 15_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const match = /^dstack-registry-auth listening on (\S+)$/m.exec(err);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void child.then((result) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${result.exitCode} before listening:\n${err}`));
    });
  });
  return {
    url,
    child,
    stderr: () => err,
    async stop(signal = 'SIGTERM') {
      child.kill(signal);
      const result = await child;
      return result.exitCode;
    },
  };
}
