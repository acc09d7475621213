import { isAbsolute, join } from 'node:path';
import { CodedError } from '../../common/errors.ts';
import { printable } from '../../common/printable.ts';
import { formatBytes, readRegularFile } from '../../common/read-regular-file.ts';
import { validateServerUrl } from '../../registry/url-rules.ts';
import { parseTimeoutMs } from './timeout-setting.ts';

export const DEFAULT_CONFIG_PATH = '/etc/docker-credential-dstack/config.json';
export const DEFAULT_TOKEN_FILE = '/etc/docker-credential-dstack/token';
export const DEFAULT_TIMEOUT_MS = 5000;

export interface HelperSettings {
  server: string;
  tokenFile: string;
  // On a Kubernetes node: the projected service-account token the node agent proves itself with.
  serviceAccountTokenFile?: string;
  cacheDir: string;
  onError: 'fail' | 'anonymous';
  caFile?: string;
  timeoutMs: number;
  debug: boolean;
  logFile?: string;
  configPath: string;
  // Whether that file exists, and where the server setting came from (the variable or the
  // file): doctor names the one that really set it.
  configFound?: boolean;
  serverFrom?: string;
  // Proxy variables for https servers (HTTPS_PROXY, NO_PROXY), taken from the environment.
  proxyEnv?: Record<string, string | undefined>;
}

type ConfigFile = Partial<
  Record<'server' | 'tokenFile' | 'serviceAccountTokenFile' | 'cacheDir' | 'onError' | 'caFile' | 'logFile', string> & {
    timeoutMs: number | string;
  }
>;

// Settings for the helper: each environment variable overrides the same key of the JSON
// config file (DOCKER_CREDENTIAL_DSTACK_CONFIG, default /etc/docker-credential-dstack/config.json).
export async function loadHelperSettings(env: Record<string, string | undefined>): Promise<HelperSettings> {
  return readHelperSettings(env, { requireServer: true });
}

// `list` and `erase` only touch the cache, so they work before a server is configured.
export function readHelperSettings(
  env: Record<string, string | undefined>,
  options: { requireServer: boolean },
): HelperSettings {
  const configPath = value(env.DOCKER_CREDENTIAL_DSTACK_CONFIG) ?? DEFAULT_CONFIG_PATH;
  const { config: file, found: configFound } = readConfigFile(
    configPath,
    value(env.DOCKER_CREDENTIAL_DSTACK_CONFIG) !== undefined,
  );
  const serverFromEnv = value(env.DOCKER_CREDENTIAL_DSTACK_SERVER);
  const server = serverFromEnv ?? file.server;
  if (server === undefined && options.requireServer) {
    throw new CodedError(
      'not_configured',
      `no dstack server configured: set DOCKER_CREDENTIAL_DSTACK_SERVER or "server" in ${configPath} (docker-credential-dstack configure writes it)`,
    );
  }
  if (server !== undefined) validateServerUrl(server);
  const onError = value(env.DOCKER_CREDENTIAL_DSTACK_ON_ERROR) ?? file.onError ?? 'fail';
  if (onError !== 'fail' && onError !== 'anonymous') {
    throw new CodedError(
      'config_invalid',
      `DOCKER_CREDENTIAL_DSTACK_ON_ERROR: "${printable(onError, 40)}" is not a failure policy; use fail or anonymous`,
    );
  }
  const timeoutText = value(env.DOCKER_CREDENTIAL_DSTACK_TIMEOUT);
  const timeoutMs =
    timeoutText !== undefined
      ? parseTimeoutMs(timeoutText, 'DOCKER_CREDENTIAL_DSTACK_TIMEOUT')
      : file.timeoutMs !== undefined
        ? parseTimeoutMs(String(file.timeoutMs), `timeoutMs in ${configPath}`)
        : DEFAULT_TIMEOUT_MS;
  const path = (variable: string, key: keyof ConfigFile): string | undefined =>
    absolutePath(value(env[variable]), variable) ??
    absolutePath(file[key] as string | undefined, `"${key}" in ${configPath}`);
  return {
    server: server ?? '',
    tokenFile: path('DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE', 'tokenFile') ?? DEFAULT_TOKEN_FILE,
    ...optional(
      'serviceAccountTokenFile',
      path('DOCKER_CREDENTIAL_DSTACK_SERVICE_ACCOUNT_TOKEN_FILE', 'serviceAccountTokenFile'),
    ),
    cacheDir: path('DOCKER_CREDENTIAL_DSTACK_CACHE_DIR', 'cacheDir') ?? defaultCacheDir(env),
    onError,
    caFile: path('DOCKER_CREDENTIAL_DSTACK_CA_FILE', 'caFile'),
    timeoutMs,
    debug: /^(1|true|yes|on)$/i.test(env.DOCKER_CREDENTIAL_DSTACK_DEBUG ?? ''),
    logFile: path('DOCKER_CREDENTIAL_DSTACK_LOG_FILE', 'logFile'),
    configPath,
    configFound,
    serverFrom: serverFromEnv !== undefined ? 'DOCKER_CREDENTIAL_DSTACK_SERVER' : configPath,
    proxyEnv: proxyVariables(env),
  };
}

// Root's cache survives nothing but a reboot (/run is tmpfs); other users get their own.
export function defaultCacheDir(env: Record<string, string | undefined>): string {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return '/run/docker-credential-dstack';
  const runtime = value(env.XDG_RUNTIME_DIR);
  if (runtime?.startsWith('/')) return join(runtime, 'docker-credential-dstack');
  return `/tmp/docker-credential-dstack-${uid}`;
}

// A handful of settings: anything near this size is not the helper's config.
const MAX_CONFIG_BYTES = 64 * 1024;

function readConfigFile(path: string, explicit: boolean): { config: ConfigFile; found: boolean } {
  // Links are followed (configuration management links config files); FIFOs never hang us.
  const read = readRegularFile(path, { maxBytes: MAX_CONFIG_BYTES, followLinks: true });
  const fix = 'fix DOCKER_CREDENTIAL_DSTACK_CONFIG or the file';
  if (read.kind === 'missing' && !explicit) return { config: {}, found: false };
  if (read.kind === 'missing')
    throw new CodedError('config_unreadable', `cannot read config file ${path} (ENOENT): ${fix}`);
  if (read.kind === 'unreadable')
    throw new CodedError('config_unreadable', `cannot read config file ${path} (${read.code}): ${fix}`);
  if (read.kind === 'not_regular')
    throw new CodedError('config_unreadable', `config file ${path} is ${read.what}, not a regular file: ${fix}`);
  if (read.kind === 'too_large')
    throw new CodedError(
      'config_unreadable',
      `config file ${path} is larger than ${formatBytes(MAX_CONFIG_BYTES)} (${formatBytes(read.size)}): ${fix}`,
    );
  const text = read.text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CodedError('config_invalid', `config file ${path} is not valid JSON: fix or remove it`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CodedError(
      'config_invalid',
      `config file ${path} must hold a JSON object such as {"server": "https://…"}`,
    );
  }
  const record = parsed as Record<string, unknown>;
  const config: ConfigFile = {};
  for (const key of [
    'server',
    'tokenFile',
    'serviceAccountTokenFile',
    'cacheDir',
    'onError',
    'caFile',
    'logFile',
  ] as const) {
    const field = record[key];
    if (field === undefined || field === null || field === '') continue;
    if (typeof field !== 'string') throw new CodedError('config_invalid', `"${key}" in ${path} must be a string`);
    config[key] = field;
  }
  const timeout = record.timeoutMs;
  if (typeof timeout === 'number' || (typeof timeout === 'string' && timeout !== '')) config.timeoutMs = timeout;
  else if (timeout !== undefined && timeout !== null)
    throw new CodedError('config_invalid', `"timeoutMs" in ${path} must be a number of milliseconds`);
  return { config, found: true };
}

function proxyVariables(env: Record<string, string | undefined>): Record<string, string | undefined> | undefined {
  const httpsProxy = value(env.HTTPS_PROXY) ?? value(env.https_proxy);
  if (httpsProxy === undefined) return undefined;
  return { HTTPS_PROXY: httpsProxy, NO_PROXY: value(env.NO_PROXY) ?? value(env.no_proxy) };
}

// Clients run the helper from whatever directory they are in: a relative path would read a
// token, or plant a cache, somewhere different on every pull.
function absolutePath(path: string | undefined, settingName: string): string | undefined {
  if (path === undefined || isAbsolute(path)) return path;
  throw new CodedError(
    'config_invalid',
    `${settingName}: "${printable(path)}" is a relative path; use an absolute one (the helper runs from any directory)`,
  );
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

// An empty variable means "unset", as in a shell.
function value(text: string | undefined): string | undefined {
  return text === undefined || text.trim() === '' ? undefined : text.trim();
}
