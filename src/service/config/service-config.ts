import type { RegistryEntry } from '../core/ports.ts';
import { Secret } from '../../common/secret.ts';
import { CodedError } from '../../common/errors.ts';
import { MAX_SHORT_LIFETIME_SECONDS, parseDuration } from '../../common/duration.ts';
import { readConfigFile, type ConfigFile } from './config-file.ts';
import { defaultRegistryEntry, fileRegistryEntry, type DefaultTtls } from './registry-entries.ts';
import { hostOf, isLoopbackHost } from '../../registry/loopback.ts';
import { inSetting, validateHttpUrl } from '../../registry/url-rules.ts';
import { checkInstanceTokenTtl } from '../token/instance-token.ts';
import { isPostgresUrl } from '../store/database-url.ts';
import { printable } from '../../common/printable.ts';
import { parseKubernetesConfig, type KubernetesConfig } from '../identity/kubernetes-config.ts';

// Everything the service needs to start, resolved from DSTACK_REGISTRY_AUTH_* variables,
// the optional JSON config file, dstack's three default-registry variables and CLI flags.
export interface ServiceConfig {
  listen: string;
  dataDir: string;
  publicUrl: string;
  plainHttp: boolean;
  tls?: { certFile: string; keyFile: string };
  adminToken?: Secret;
  issuerName: string;
  instanceTokenTtlSeconds: number;
  databaseUrl?: string;
  auditLogPath?: string;
  // Fleet default for pointing runner hosts' engines at the host-local mirror endpoint
  // (`docker-credential-dstack mirror`), sent in /v1/host-config.
  mirrorEndpoint: boolean;
  registries: RegistryEntry[];
  // Clusters whose projected service-account tokens authenticate like instance tokens.
  kubernetes?: KubernetesConfig;
}

export const DEFAULT_LISTEN = '127.0.0.1:8480';
export const DEFAULT_DATA_DIR = '/var/lib/dstack-registry-auth';
export const DEFAULT_ISSUER = 'dstack-registry-auth';

const PREFIX = 'DSTACK_REGISTRY_AUTH_';

// Precedence: CLI flag > environment variable > config file > default. Empty variables are unset.
export async function loadServiceConfig(
  env: Record<string, string | undefined>,
  overrides: { listen?: string; dataDir?: string; plainHttp?: boolean },
): Promise<ServiceConfig> {
  const configPath = nonEmpty(env[`${PREFIX}CONFIG`]);
  const file: ConfigFile = configPath ? await readConfigFile(configPath) : {};
  const fileSetting = (key: string) => `${key} in DSTACK_REGISTRY_AUTH_CONFIG (${configPath})`;
  // A setting's value and the name to blame when it is wrong.
  const setting = (envName: string, key: keyof ConfigFile): { value: string; setting: string } | undefined => {
    const fromEnv = nonEmpty(env[PREFIX + envName]);
    if (fromEnv !== undefined) return { value: fromEnv, setting: PREFIX + envName };
    const fromFile = file[key];
    if (typeof fromFile === 'string' && fromFile !== '') return { value: fromFile, setting: fileSetting(key) };
    return undefined;
  };
  const duration = (envName: string, key: keyof ConfigFile, fallback: string, maxSeconds?: number) => {
    const found = setting(envName, key);
    return parseDuration(found?.value ?? fallback, found?.setting ?? PREFIX + envName, maxSeconds);
  };

  const listenSetting =
    overrides.listen !== undefined ? { value: overrides.listen, setting: '--listen' } : setting('LISTEN', 'listen');
  const listen = checkListen(listenSetting?.value ?? DEFAULT_LISTEN, listenSetting?.setting ?? `${PREFIX}LISTEN`);
  const dataDir = overrides.dataDir ?? setting('DATA_DIR', 'dataDir')?.value ?? DEFAULT_DATA_DIR;
  const plainHttp =
    overrides.plainHttp === true ||
    (flag(env[`${PREFIX}PLAIN_HTTP`], `${PREFIX}PLAIN_HTTP`) ?? file.plainHttp === true);
  const cert = setting('TLS_CERT', 'tlsCert');
  const key = setting('TLS_KEY', 'tlsKey');
  if (cert && !key)
    throw new CodedError('config_invalid', `${cert.setting} is set but ${PREFIX}TLS_KEY is not; set both for HTTPS`);
  if (key && !cert)
    throw new CodedError('config_invalid', `${key.setting} is set but ${PREFIX}TLS_CERT is not; set both for HTTPS`);
  const tls = cert && key ? { certFile: cert.value, keyFile: key.value } : undefined;
  const publicUrlSetting = setting('PUBLIC_URL', 'publicUrl');
  const publicUrl = publicUrlSetting
    ? inSetting(publicUrlSetting.setting, () => validateHttpUrl(publicUrlSetting.value))
    : listenUrl(listen, tls !== undefined);
  const adminToken = setting('ADMIN_TOKEN', 'adminToken');
  if (adminToken && adminToken.value.length < 16)
    throw new CodedError(
      'config_invalid',
      `${adminToken.setting} is shorter than 16 characters; use a long random value (openssl rand -hex 32)`,
    );
  const databaseUrl = setting('DATABASE_URL', 'databaseUrl');
  const auditLog = setting('AUDIT_LOG', 'auditLog');
  if (databaseUrl && !isPostgresUrl(databaseUrl.value))
    throw new CodedError(
      'config_invalid',
      `${databaseUrl.setting} must be a postgres:// or postgresql:// connection URL`,
    );

  const ttls: DefaultTtls = {
    credentialTtlSeconds: duration('CREDENTIAL_TTL', 'credentialTtl', '10m', MAX_SHORT_LIFETIME_SECONDS),
    ticketTtlSeconds: duration('TICKET_TTL', 'ticketTtl', '5m', MAX_SHORT_LIFETIME_SECONDS),
    tokenTtlSeconds: duration('REGISTRY_TOKEN_TTL', 'registryTokenTtl', '5m', MAX_SHORT_LIFETIME_SECONDS),
  };
  const registries = resolveRegistries(env, file, configPath, ttls, setting);
  const issuerName = setting('ISSUER', 'issuer')?.value ?? DEFAULT_ISSUER;
  const kubernetes =
    file.kubernetes === undefined
      ? undefined
      : parseKubernetesConfig(file.kubernetes, `DSTACK_REGISTRY_AUTH_CONFIG (${configPath})`, issuerName);
  const mirrorEndpoint =
    flag(env[`${PREFIX}MIRROR_ENDPOINT`], `${PREFIX}MIRROR_ENDPOINT`) ?? file.mirrorEndpoint === true;

  return {
    listen,
    dataDir,
    publicUrl,
    plainHttp,
    ...(tls ? { tls } : {}),
    ...(adminToken ? { adminToken: new Secret(adminToken.value) } : {}),
    issuerName,
    instanceTokenTtlSeconds: checkInstanceTokenTtl(
      duration('INSTANCE_TOKEN_TTL', 'instanceTokenTtl', '30d'),
      setting('INSTANCE_TOKEN_TTL', 'instanceTokenTtl')?.setting ?? `${PREFIX}INSTANCE_TOKEN_TTL`,
      'config_invalid',
    ),
    ...(databaseUrl ? { databaseUrl: databaseUrl.value } : {}),
    ...(auditLog ? { auditLogPath: auditLog.value } : {}),
    mirrorEndpoint,
    registries,
    ...(kubernetes ? { kubernetes } : {}),
  };
}

function resolveRegistries(
  env: Record<string, string | undefined>,
  file: ConfigFile,
  configPath: string | undefined,
  ttls: DefaultTtls,
  setting: (envName: string, key: keyof ConfigFile) => { value: string; setting: string } | undefined,
): RegistryEntry[] {
  const projectsVar = nonEmpty(env[`${PREFIX}DEFAULT_PROJECTS`]);
  const projects =
    projectsVar !== undefined
      ? projectsVar
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean)
      : file.defaultProjects;
  const service = setting('DEFAULT_SERVICE', 'defaultService')?.value;
  const source = setting('DEFAULT_SOURCE', 'defaultSource');
  const mirrorUrl = setting('DEFAULT_MIRROR_URL', 'defaultMirrorUrl');
  const upstreamUrl = setting('DEFAULT_UPSTREAM_URL', 'defaultUpstreamUrl');
  const library = setting('DEFAULT_LIBRARY', 'defaultLibrary');
  const realmsVar = nonEmpty(env[`${PREFIX}DEFAULT_REALMS`]);
  const realms =
    realmsVar !== undefined
      ? {
          value: realmsVar
            .split(',')
            .map((r) => r.trim())
            .filter(Boolean),
          setting: `${PREFIX}DEFAULT_REALMS`,
        }
      : file.defaultRealms
        ? { value: file.defaultRealms, setting: 'defaultRealms' }
        : undefined;
  const registry = nonEmpty(env.DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY);
  const username = nonEmpty(env.DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME);
  const password = nonEmpty(env.DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD);
  // `serviceSetting` names where an issuer registry's token service comes from, for errors.
  const entries: { entry: RegistryEntry; where: string; serviceSetting: string }[] = [];
  const defaultEntry = defaultRegistryEntry(
    {
      ...(registry !== undefined ? { registry } : {}),
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(source ? { source } : {}),
      ...(service !== undefined ? { service } : {}),
      ...(mirrorUrl ? { mirrorUrl } : {}),
      ...(upstreamUrl ? { upstreamUrl } : {}),
      ...(library ? { library } : {}),
      ...(realms ? { realms } : {}),
      ...(projects && projects.length > 0 ? { projects } : {}),
    },
    ttls,
  );
  const defaultServiceSetting =
    setting('DEFAULT_SERVICE', 'defaultService')?.setting ?? `${PREFIX}DEFAULT_SERVICE (default: the registry key)`;
  if (defaultEntry)
    entries.push({
      entry: defaultEntry,
      where: 'DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY',
      serviceSetting: defaultServiceSetting,
    });
  (file.registries ?? []).forEach((raw, index) => {
    const where = `registries[${index}]`;
    const prefix = `DSTACK_REGISTRY_AUTH_CONFIG (${configPath}): `;
    try {
      const serviceSetting =
        raw.service === undefined ? `${where}.service (default: the registry key)` : `${where}.service`;
      entries.push({
        entry: fileRegistryEntry(raw, where, env, ttls),
        where: prefix + where,
        serviceSetting: prefix + serviceSetting,
      });
    } catch (error) {
      throw new CodedError('config_invalid', prefix + (error as Error).message);
    }
  });
  // Each key answers for exactly one registry, or the credential a client gets would depend on order.
  const owner = new Map<string, string>();
  for (const { entry, where } of entries) {
    for (const key of [entry.key, ...entry.aliases]) {
      const first = owner.get(key);
      if (first !== undefined)
        throw new CodedError(
          'config_invalid',
          `${where}: registry key ${key} is already served by ${first}; each registry (and the Docker Hub mirror) may be configured once`,
        );
      owner.set(key, where);
    }
  }
  assertDistinctServices(entries);
  return entries.map(({ entry }) => entry);
}

// A registry token's audience is the service name, so two issuer registries sharing one would
// accept each other's tokens: a project could pull another project's repositories.
function assertDistinctServices(entries: { entry: RegistryEntry; serviceSetting: string }[]): void {
  const owner = new Map<string, { entry: RegistryEntry; serviceSetting: string }>();
  for (const current of entries) {
    const service = current.entry.issuer?.service;
    if (current.entry.source !== 'issuer' || service === undefined) continue;
    const first = owner.get(service);
    if (first !== undefined) {
      throw new CodedError(
        'config_invalid',
        `${current.serviceSetting}: token service "${printable(service)}" of registry ${current.entry.key} is already the service of registry ${first.entry.key} (${first.serviceSetting}); give each issuer registry its own service`,
      );
    }
    owner.set(service, current);
  }
}

// The URL a listen address answers on, before any proxy.
export function listenUrl(listen: string, tls: boolean): string {
  return `${tls ? 'https' : 'http'}://${listen}`;
}

// Plain HTTP leaves a loopback address only behind a TLS-terminating proxy the operator vouches for.
export function assertTransportAllowed(config: ServiceConfig): void {
  if (config.tls || config.plainHttp || isLoopbackHost(hostOf(config.listen))) return;
  throw new CodedError(
    'config_invalid',
    `listen address ${config.listen} is not loopback and no TLS is configured: set ${PREFIX}TLS_CERT and ${PREFIX}TLS_KEY, or pass --plain-http when a TLS-terminating proxy stands in front`,
  );
}

function checkListen(value: string, settingName: string): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value.trim());
  if (!match || Number(match[2]) > 65535)
    throw new CodedError(
      'config_invalid',
      `${settingName}: "${printable(value, 80)}" is not HOST:PORT (such as 127.0.0.1:8480 or 0.0.0.0:443)`,
    );
  return value.trim();
}

function flag(value: string | undefined, settingName: string): boolean | undefined {
  const text = nonEmpty(value)?.toLowerCase();
  if (text === undefined) return undefined;
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off'].includes(text)) return false;
  throw new CodedError(
    'config_invalid',
    `${settingName}: "${printable(text, 20)}" is not a boolean; use true or false (on or off)`,
  );
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
