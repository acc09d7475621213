import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type Result } from 'execa';
import { FROM_SOURCE, HELPER_BINARY, helperShim } from '../../helpers/ensure-packages.ts';

// What a runner host has after install: the built helper on PATH under its protocol name,
// its settings (here through the environment and a private config file), an instance token
// file, a cache directory and a debug log, all under `dir`. Clients (docker CLI, skopeo,
// podman) exec the helper with their own environment, so `env` goes on the client process.
export interface HelperHost {
  binDir: string;
  dockerConfigDir: string;
  tokenFile: string;
  cacheDir: string;
  logFile: string;
  env: Record<string, string>;
  setToken(token: string): Promise<void>;
  debugLog(): Promise<string>;
  eraseCache(): Promise<void>;
  run(args: string[], options?: { input?: string; env?: Record<string, string> }): Promise<Result>;
}

// `debugLog: false`: no log file and no debug output, as a host runs by default (a benchmark
// measures that).
export async function createHelperHost(options: {
  dir: string;
  server: string;
  token?: string;
  onError?: 'fail' | 'anonymous';
  debugLog?: boolean;
}): Promise<HelperHost> {
  const binDir = join(options.dir, 'bin');
  // HOME/.docker is where root's client config lives on a host; podman and skopeo look there too.
  const dockerConfigDir = join(options.dir, '.docker');
  const tokenFile = join(options.dir, 'token');
  const cacheDir = join(options.dir, 'cache');
  const logFile = join(options.dir, 'helper.log');
  const configPath = join(options.dir, 'helper-config.json');
  await mkdir(binDir, { recursive: true });
  await mkdir(dockerConfigDir, { recursive: true });
  if (FROM_SOURCE) await writeFile(join(binDir, 'docker-credential-dstack'), helperShim(), { mode: 0o755 });
  else await symlink(HELPER_BINARY, join(binDir, 'docker-credential-dstack'));
  const debug = options.debugLog ?? true;
  const settings = {
    server: options.server,
    tokenFile,
    cacheDir,
    ...(debug ? { logFile } : {}),
    onError: options.onError ?? 'fail',
  };
  await writeFile(configPath, JSON.stringify(settings, null, 2));
  const setToken = (token: string) => writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  if (options.token !== undefined) await setToken(options.token);
  const env: Record<string, string> = {
    PATH: `${binDir}:${process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`,
    HOME: options.dir,
    DOCKER_CONFIG: dockerConfigDir,
    DOCKER_CREDENTIAL_DSTACK_CONFIG: configPath,
    DOCKER_CREDENTIAL_DSTACK_SERVER: options.server,
    DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: tokenFile,
    DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: cacheDir,
    ...(debug ? { DOCKER_CREDENTIAL_DSTACK_LOG_FILE: logFile } : {}),
    DOCKER_CREDENTIAL_DSTACK_ON_ERROR: settings.onError,
    DOCKER_CREDENTIAL_DSTACK_DEBUG: debug ? '1' : '0',
  };
  return {
    binDir,
    dockerConfigDir,
    tokenFile,
    cacheDir,
    logFile,
    env,
    setToken,
    debugLog: () => readFile(logFile, 'utf8').catch(() => ''),
    eraseCache: () => rm(cacheDir, { recursive: true, force: true }),
    run: (args, runOptions = {}) =>
      execa(join(binDir, 'docker-credential-dstack'), args, {
        env: { ...env, ...runOptions.env },
        extendEnv: false,
        reject: false,
        ...(runOptions.input !== undefined ? { input: runOptions.input } : {}),
      }),
  };
}

// Lines of the helper's debug log that report where a `get` was answered from.
export function cacheEvents(log: string): { hits: number; misses: number } {
  const lines = log.split('\n');
  return {
    hits: lines.filter((l) => /cache hit/i.test(l)).length,
    misses: lines.filter((l) => /cache miss/i.test(l)).length,
  };
}
