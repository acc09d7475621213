import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isCodedError } from '../../common/errors.ts';
import { loadHelperSettings, type HelperSettings } from '../helper/settings.ts';
import { createServiceClient, type ServiceClient } from '../client/service-client.ts';
import { DOCKER_HUB_KEY, normalizeRegistryKey } from '../../registry/registry-key.ts';
import { findOnPath } from './detect-engines.ts';
import { HELPER_NAME } from './docker-client-config.ts';
import { parseJsonObject } from './json-document.ts';
import { dockerInfo, describeImageStore, mirrorsInEffect, type DockerInfo } from './docker-engine.ts';
import { mirrorRegistryKey, validateMirrorUrl } from '../../registry/mirror-url.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail';
export interface CheckResult {
  status: CheckStatus;
  name: string;
  detail: string;
  fix?: string;
}

// What earlier checks learnt, for the later ones; a check whose input is missing says so and skips.
export interface DoctorContext {
  env: Record<string, string | undefined>;
  dockerConfigDir: string;
  now: () => Date;
  settings?: HelperSettings;
  client?: ServiceClient;
  hostConfig?: { mirrors: string[]; registries: string[] };
  info?: DockerInfo;
}

type Check = (ctx: DoctorContext) => Promise<CheckResult | CheckResult[]>;

const MAX_SKEW_WARN_S = 30;
const MAX_SKEW_FAIL_S = 300;

const binaryOnPath: Check = async (ctx) => {
  const path = await findOnPath(`docker-credential-${HELPER_NAME}`, ctx.env);
  return path
    ? { status: 'ok', name: 'helper binary', detail: path }
    : { status: 'fail', name: 'helper binary', detail: `docker-credential-${HELPER_NAME} is not on PATH`, fix: 'install it into /usr/local/bin (scripts/install.sh)' };
};

const helperConfig: Check = async (ctx) => {
  try {
    ctx.settings = await loadHelperSettings(ctx.env);
    ctx.client = createServiceClient(ctx.settings);
    return { status: 'ok', name: 'helper config', detail: `server ${ctx.settings.server} (${ctx.settings.configPath})` };
  } catch (error) {
    return { status: 'fail', name: 'helper config', detail: message(error), fix: 'run scripts/install.sh --server URL, or write "server" and "tokenFile" in /etc/docker-credential-dstack/config.json' };
  }
};

const tokenFile: Check = async (ctx) => {
  if (!ctx.settings) return skipped('token file', 'no helper config');
  const path = ctx.settings.tokenFile;
  const info = await stat(path).catch(() => undefined);
  if (!info) return { status: 'fail', name: 'token file', detail: `${path} is missing`, fix: `write the instance token to ${path} with mode 0600` };
  if (info.size === 0) return { status: 'fail', name: 'token file', detail: `${path} is empty`, fix: `write the instance token to ${path}` };
  const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
  if (info.mode & 0o007) return { status: 'fail', name: 'token file', detail: `${path} is readable by others (mode ${mode})`, fix: `chmod 600 ${path}` };
  if (info.mode & 0o070) return { status: 'warn', name: 'token file', detail: `${path} is readable by its group (mode ${mode})`, fix: `chmod 600 ${path}` };
  return { status: 'ok', name: 'token file', detail: `${path} (mode ${mode})` };
};

const serverReachable: Check = async (ctx) => {
  if (!ctx.client || !ctx.settings) return skipped('server', 'no helper config');
  try {
    const health = await ctx.client.health();
    const results: CheckResult[] = [{ status: health.ok ? 'ok' : 'fail', name: 'server', detail: `${ctx.settings.server} ${health.ok ? 'answers /healthz' : 'answers /healthz with an error'}` }];
    if (health.date) {
      const skew = Math.round((ctx.now().getTime() - health.date.getTime()) / 1000);
      const status: CheckStatus = Math.abs(skew) > MAX_SKEW_FAIL_S ? 'fail' : Math.abs(skew) > MAX_SKEW_WARN_S ? 'warn' : 'ok';
      results.push({ status, name: 'clock', detail: `${skew}s off the server's clock`, fix: status === 'ok' ? undefined : 'sync the clock (chrony/systemd-timesyncd): tokens are time-bound' });
    }
    return results;
  } catch (error) {
    const tls = isCodedError(error, 'tls');
    return { status: 'fail', name: 'server', detail: message(error), fix: tls ? 'set "caFile" in the helper config to the CA that signed the server certificate' : 'check the server URL, the network path and that dstack-registry-auth runs' };
  }
};

const hostConfigCheck: Check = async (ctx) => {
  if (!ctx.client) return skipped('host config', 'no helper config');
  try {
    ctx.hostConfig = await ctx.client.getHostConfig();
    return { status: 'ok', name: 'host config', detail: `mirrors ${ctx.hostConfig.mirrors.join(', ') || '(none)'}; registries ${ctx.hostConfig.registries.join(', ') || '(none)'}` };
  } catch (error) {
    return { status: 'fail', name: 'host config', detail: message(error), fix: fixFor(error) };
  }
};

const credentials: Check = async (ctx) => {
  if (!ctx.client || !ctx.hostConfig) return skipped('credentials', 'no host config');
  const results: CheckResult[] = [];
  for (const key of wantedKeys(ctx.hostConfig)) {
    try {
      const credential = await ctx.client.getCredential(key);
      const minutes = Math.round((credential.expiresAt.getTime() - ctx.now().getTime()) / 60_000);
      results.push({ status: 'ok', name: `credential ${key}`, detail: `obtained ${credential.kind === 'basic' ? `for ${credential.username}` : `a token for ${credential.repository}`}, expires in ${minutes} min (not shown)` });
    } catch (error) {
      const listed = ctx.hostConfig.registries.some((r) => safeKey(r) === key);
      results.push({ status: listed ? 'fail' : 'warn', name: `credential ${key}`, detail: message(error), fix: fixFor(error) });
    }
  }
  return results;
};

const clientConfig: Check = async (ctx) => {
  const path = join(ctx.dockerConfigDir, 'config.json');
  if (!ctx.hostConfig) return skipped('client config', 'no host config');
  let helpers: Record<string, unknown> = {};
  try {
    const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new Error(error.code === 'ENOENT' ? `${path} does not exist` : `cannot read ${path} (${error.code ?? 'error'})`);
    });
    // parseJsonObject never quotes the file: it may hold registry passwords (`auths`).
    const credHelpers = parseJsonObject(text, path).credHelpers;
    if (typeof credHelpers === 'object' && credHelpers !== null) helpers = credHelpers as Record<string, unknown>;
  } catch (error) {
    return { status: 'fail', name: 'client config', detail: message(error), fix: 'run docker-credential-dstack configure' };
  }
  const missing = wantedKeys(ctx.hostConfig).filter((key) => helpers[key] !== HELPER_NAME);
  return missing.length === 0
    ? { status: 'ok', name: 'client config', detail: `${path} names the helper for every key` }
    : { status: 'fail', name: 'client config', detail: `${path} does not name "${HELPER_NAME}" for ${missing.join(', ')}`, fix: 'run docker-credential-dstack configure (--force if another helper is named)' };
};

const daemonMirrors: Check = async (ctx) => {
  try {
    ctx.info = await dockerInfo(ctx.env);
  } catch (error) {
    return { status: 'warn', name: 'dockerd mirrors', detail: message(error), fix: 'start dockerd, or ignore on hosts without Docker' };
  }
  let mirrors: string[];
  try {
    mirrors = (ctx.hostConfig?.mirrors ?? []).map(validateMirrorUrl);
  } catch (error) {
    return { status: 'fail', name: 'dockerd mirrors', detail: `the server's host config: ${message(error)}`, fix: "ask the dstack operator to fix the server's mirror URL" };
  }
  if (mirrors.length === 0) return { status: 'ok', name: 'dockerd mirrors', detail: `no mirror to expect; docker info shows ${ctx.info.mirrors.join(', ') || '(none)'}` };
  return mirrorsInEffect(ctx.info, mirrors)
    ? { status: 'ok', name: 'dockerd mirrors', detail: `docker info shows ${mirrors.join(', ')}` }
    : { status: 'fail', name: 'dockerd mirrors', detail: `docker info shows ${ctx.info.mirrors.join(', ') || '(none)'}, not ${mirrors.join(', ')}`, fix: 'run docker-credential-dstack configure (it reloads dockerd)' };
};

const imageStore: Check = async (ctx) => {
  if (!ctx.info) return skipped('image store', 'no docker info');
  return ctx.info.containerdStore
    ? { status: 'warn', name: 'image store', detail: describeImageStore(ctx.info), fix: 'use the reference-rewrite path for authenticated mirrors, or switch dockerd to the classic image store' }
    : { status: 'ok', name: 'image store', detail: describeImageStore(ctx.info) };
};

// In dependency order: each later check builds on what the earlier ones found (settings →
// token → server → host config → credentials → engines).
export const DOCTOR_CHECKS: Check[] = [binaryOnPath, helperConfig, tokenFile, serverReachable, hostConfigCheck, credentials, clientConfig, daemonMirrors, imageStore];

function wantedKeys(hostConfig: { mirrors: string[]; registries: string[] }): string[] {
  const keys = hostConfig.registries.map(safeKey).filter((k): k is string => k !== undefined);
  const mirrors = hostConfig.mirrors.flatMap((m) => {
    try {
      return [mirrorRegistryKey(validateMirrorUrl(m))];
    } catch {
      return [];
    }
  });
  if (mirrors.length > 0) keys.push(DOCKER_HUB_KEY, ...mirrors);
  return [...new Set(keys)];
}

function safeKey(key: string): string | undefined {
  try {
    return normalizeRegistryKey(key);
  } catch {
    return undefined;
  }
}

function skipped(name: string, why: string): CheckResult {
  return { status: 'warn', name, detail: `skipped: ${why}` };
}

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

function fixFor(error: unknown): string {
  if (isCodedError(error) && /^token_/.test(error.code)) return 'ask the dstack operator for a new instance token and write it to the token file';
  if (isCodedError(error, 'forbidden')) return "this instance's project may not use that registry; ask the dstack operator";
  if (isCodedError(error, 'not_found')) return 'the server has no credential for that registry; ask the dstack operator';
  return 'check the server (see the server check above)';
}
