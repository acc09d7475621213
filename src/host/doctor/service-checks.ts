import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isCodedError } from '../../common/errors.ts';
import { loadHelperSettings } from '../settings/settings.ts';
import { expiryOnHost } from '../credentials/credential-lifetime.ts';
import { createServiceClient } from '../client/service-client.ts';
import { readServiceAccountToken } from '../client/service-account-token.ts';
import { normalizeRegistryKey } from '../../registry/registry-key.ts';
import { findOnPath } from '../setup/engines/detect-engines.ts';
import { HELPER_NAME } from '../setup/engine-files/docker-client-config.ts';
import { parseJsonObject } from '../setup/formats/json-document.ts';
import { hostSetupFrom } from '../setup/host-config-source.ts';
import {
  fixFor,
  message,
  skipped,
  type Check,
  type CheckStatus,
  type CheckResult,
  type DoctorContext,
} from './doctor-check.ts';

const MAX_SKEW_WARN_S = 30;
const MAX_SKEW_FAIL_S = 300;

export const binaryOnPath: Check = async (ctx) => {
  const path = await findOnPath(`docker-credential-${HELPER_NAME}`, ctx.env);
  return path
    ? { status: 'ok', name: 'helper binary', detail: path }
    : {
        status: 'fail',
        name: 'helper binary',
        detail: `docker-credential-${HELPER_NAME} is not on PATH`,
        fix: 'install it into /usr/local/bin (scripts/install.sh)',
      };
};

export const helperConfig: Check = async (ctx) => {
  try {
    ctx.settings = await loadHelperSettings(ctx.env);
    ctx.client = createServiceClient(ctx.settings);
    const { server, serverFrom = ctx.settings.configPath, configPath, configFound = true } = ctx.settings;
    const others =
      serverFrom === configPath ? '' : configFound ? `; other settings from ${configPath}` : `; no ${configPath}`;
    return { status: 'ok', name: 'helper config', detail: `server ${server} (from ${serverFrom}${others})` };
  } catch (error) {
    return {
      status: 'fail',
      name: 'helper config',
      detail: message(error),
      fix: 'run scripts/install.sh --server URL, or write "server" and "tokenFile" in /etc/docker-credential-dstack/config.json',
    };
  }
};

export const tokenFile: Check = async (ctx) => {
  if (!ctx.settings) return skipped('token file', 'no helper config');
  // A Kubernetes node's projected token: the kubelet owns the file, its links and its mode.
  const projected = ctx.settings.serviceAccountTokenFile;
  if (projected !== undefined) {
    try {
      readServiceAccountToken(projected);
      return {
        status: 'ok',
        name: 'token file',
        detail: `${projected} (a service-account token, sent instead of the instance token)`,
      };
    } catch (error) {
      return {
        status: 'fail',
        name: 'token file',
        detail: message(error),
        fix: 'mount a projected service-account token there (docs/kubernetes.md)',
      };
    }
  }
  const path = ctx.settings.tokenFile;
  const fix = `write the instance token to ${path} with mode 0600`;
  const info = await stat(path).catch(() => undefined);
  if (!info) return { status: 'fail', name: 'token file', detail: `${path} is missing`, fix };
  if (info.isDirectory())
    return {
      status: 'fail',
      name: 'token file',
      detail: `${path} is a directory, not a token file`,
      fix: `remove the directory and ${fix}`,
    };
  if (!info.isFile())
    return { status: 'fail', name: 'token file', detail: `${path} is not a regular file`, fix: `replace it: ${fix}` };
  if (info.size === 0)
    return {
      status: 'fail',
      name: 'token file',
      detail: `${path} is empty`,
      fix: `write the instance token to ${path}`,
    };
  const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
  if (info.mode & 0o007)
    return {
      status: 'fail',
      name: 'token file',
      detail: `${path} is readable by others (mode ${mode})`,
      fix: `chmod 600 ${path}`,
    };
  if (info.mode & 0o070)
    return {
      status: 'warn',
      name: 'token file',
      detail: `${path} is readable by its group (mode ${mode})`,
      fix: `chmod 600 ${path}`,
    };
  return { status: 'ok', name: 'token file', detail: `${path} (mode ${mode})` };
};

export const serverReachable: Check = async (ctx) => {
  if (!ctx.client || !ctx.settings) return skipped('server', 'no helper config');
  const server = ctx.settings.server;
  try {
    const health = await ctx.client.health();
    const results: CheckResult[] = [];
    if (health.ok) results.push({ status: 'ok', name: 'server', detail: `${server} answers /healthz` });
    else {
      const what =
        health.status === 200 ? 'HTTP 200, but not with the answer of dstack-registry-auth' : `HTTP ${health.status}`;
      results.push({
        status: 'fail',
        name: 'server',
        detail: `${server} answers /healthz with ${what}: it does not look like dstack-registry-auth`,
        fix: 'check the server URL ("server" in the helper config): the base URL of dstack-registry-auth, without a path',
      });
    }
    if (health.date) {
      const skew = Math.round((ctx.now().getTime() - health.date.getTime()) / 1000);
      const status: CheckStatus =
        Math.abs(skew) > MAX_SKEW_FAIL_S ? 'fail' : Math.abs(skew) > MAX_SKEW_WARN_S ? 'warn' : 'ok';
      results.push({
        status,
        name: 'clock',
        detail: `${skew}s off the server's clock`,
        fix: status === 'ok' ? undefined : 'sync the clock (chrony/systemd-timesyncd): tokens are time-bound',
      });
    }
    return results;
  } catch (error) {
    const tls = isCodedError(error, 'tls');
    return {
      status: 'fail',
      name: 'server',
      detail: message(error),
      fix: tls
        ? 'set "caFile" in the helper config to the CA that signed the server certificate'
        : 'check the server URL, the network path and that dstack-registry-auth runs',
    };
  }
};

export const hostConfigCheck: Check = async (ctx) => {
  if (!ctx.client) return skipped('host config', 'no helper config');
  try {
    const hostConfig = await ctx.client.getHostConfig();
    ctx.hostConfig = hostConfig;
    try {
      ctx.setup = hostSetupFrom({
        mirrors: hostConfig.mirrors,
        registries: hostConfig.registries,
        fleet: hostConfig.endpoint,
        choice: ctx.options.mirrorEndpoint,
        source: 'server',
      });
    } catch (error) {
      // The value's own complaint (fromSource wraps it for configure's command line).
      ctx.setupError = message(error instanceof Error && error.cause !== undefined ? error.cause : error);
    }
    const upstreams = hostConfig.endpoint.upstreams.map((u) => u.url).join(', ') || '(none named)';
    const endpoint = `mirror endpoint ${hostConfig.endpoint.enabled ? 'enabled' : 'not enabled'} for the fleet, upstreams ${upstreams}`;
    return {
      status: 'ok',
      name: 'host config',
      detail: `mirrors ${hostConfig.mirrors.join(', ') || '(none)'}; registries ${hostConfig.registries.join(', ') || '(none)'}; ${endpoint}`,
    };
  } catch (error) {
    return { status: 'fail', name: 'host config', detail: message(error), fix: fixFor(error, ctx.settings) };
  }
};

export const credentials: Check = async (ctx) => {
  if (!ctx.client || !ctx.hostConfig) return skipped('credentials', 'no host config');
  const results: CheckResult[] = [];
  for (const key of helperKeys(ctx)) {
    try {
      const credential = await ctx.client.getCredential(key);
      const at = ctx.now();
      const minutes = Math.round((expiryOnHost(credential, at).getTime() - at.getTime()) / 60_000);
      results.push({
        status: 'ok',
        name: `credential ${key}`,
        detail: `obtained ${credential.kind === 'basic' ? `for ${credential.username}` : `a token for ${credential.repository}`}, expires in ${minutes} min (not shown)`,
      });
    } catch (error) {
      const listed = ctx.hostConfig.registries.some((r) => safeKey(r) === key);
      results.push({
        status: listed ? 'fail' : 'warn',
        name: `credential ${key}`,
        detail: message(error),
        fix: fixFor(error, ctx.settings),
      });
    }
  }
  return results;
};

export const clientConfig: Check = async (ctx) => {
  const path = join(ctx.options.dockerConfigDir, 'config.json');
  if (!ctx.hostConfig) return skipped('client config', 'no host config');
  let helpers: Record<string, unknown> = {};
  try {
    const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new Error(
        error.code === 'ENOENT' ? `${path} does not exist` : `cannot read ${path} (${error.code ?? 'error'})`,
      );
    });
    // parseJsonObject never quotes the file: it may hold registry passwords (`auths`).
    const credHelpers = parseJsonObject(text, path).credHelpers;
    if (typeof credHelpers === 'object' && credHelpers !== null) helpers = credHelpers as Record<string, unknown>;
  } catch (error) {
    return {
      status: 'fail',
      name: 'client config',
      detail: message(error),
      fix: 'run docker-credential-dstack configure',
    };
  }
  const missing = helperKeys(ctx).filter((key) => helpers[key] !== HELPER_NAME);
  return missing.length === 0
    ? { status: 'ok', name: 'client config', detail: `${path} names the helper for every key` }
    : {
        status: 'fail',
        name: 'client config',
        detail: `${path} does not name "${HELPER_NAME}" for ${missing.join(', ')}`,
        fix: 'run docker-credential-dstack configure (--force if another helper is named)',
      };
};

// The keys configure names the helper for; with an unusable host config, the valid registry keys.
function helperKeys(ctx: DoctorContext): string[] {
  if (ctx.setup) return ctx.setup.keys;
  return (ctx.hostConfig?.registries ?? []).map(safeKey).filter((k): k is string => k !== undefined);
}

function safeKey(key: string): string | undefined {
  try {
    return normalizeRegistryKey(key);
  } catch {
    return undefined;
  }
}
