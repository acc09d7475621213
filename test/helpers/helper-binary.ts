import { builtBinary } from './repo-root.ts';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach } from 'vitest';
import {
  startContractServer,
  TEST_INSTANCE_TOKEN,
  type ContractCredential,
  type ContractServer,
} from './contract-server.ts';

// The built single binary, run the way Docker runs it: one argument, the server URL on
// stdin, only the environment given (nothing inherited), from an unrelated directory.
export const HELPER_BINARY = builtBinary('docker-credential-dstack');

export function assertBinaryBuilt(): void {
  if (!existsSync(HELPER_BINARY)) {
    throw new Error(
      `${HELPER_BINARY} is missing: run \`npm run -s build:binary -- --host-only\` (npm test does it first)`,
    );
  }
}

export interface HelperHome {
  dir: string;
  cacheDir: string;
  tokenFile: string;
  logFile: string;
  cwd: string;
  env(extra?: Record<string, string>): Record<string, string>;
  cleanup(): Promise<void>;
}

// A private temp directory with a token file (0600), a cache dir path and a log file path.
export async function makeHelperHome(server: string): Promise<HelperHome> {
  const dir = await mkdtemp(join(tmpdir(), 'dcd-bin-'));
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${TEST_INSTANCE_TOKEN}\n`, { mode: 0o600 });
  const cwd = join(dir, 'elsewhere');
  await mkdir(cwd);
  const home: HelperHome = {
    dir,
    cacheDir: join(dir, 'cache'),
    tokenFile,
    logFile: join(dir, 'helper.log'),
    cwd,
    env: (extra = {}) => ({
      DOCKER_CREDENTIAL_DSTACK_SERVER: server,
      DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: tokenFile,
      DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: join(dir, 'cache'),
      DOCKER_CREDENTIAL_DSTACK_CONFIG: join(dir, 'no-config.json'),
      DOCKER_CREDENTIAL_DSTACK_LOG_FILE: join(dir, 'helper.log'),
      ...extra,
    }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  // An explicit config path that does not exist is an error, so give it an empty object.
  await writeFile(join(dir, 'no-config.json'), '{}\n');
  return home;
}

export interface HelperRun {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

export async function runHelper(
  action: string,
  input: string,
  env: Record<string, string>,
  cwd: string,
  args: string[] = [action],
): Promise<HelperRun> {
  const result = await execa(HELPER_BINARY, args, {
    input,
    env,
    extendEnv: false,
    cwd,
    reject: false,
    timeout: 20_000,
    stripFinalNewline: false,
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

// For a test file: each test gets its own contract server (with these credentials) and helper
// home, both removed after the test.
export function contractServerPerTest(
  credentials: Record<string, ContractCredential> = {},
): () => Promise<{ server: ContractServer; home: HelperHome }> {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  return async () => {
    const server = await startContractServer({ credentials });
    const home = await makeHelperHome(server.url);
    cleanups.push(
      () => server.close(),
      () => home.cleanup(),
    );
    return { server, home };
  };
}
