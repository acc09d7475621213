import type { LibraryMode, RegistryEntry, SourceKind } from '../core/ports.ts';
import { realmHost } from '../../registry/realm-binding.ts';
import { Secret } from '../../common/secret.ts';
import { CodedError } from '../../common/errors.ts';
import { MAX_SHORT_LIFETIME_SECONDS, parseDuration } from '../../common/duration.ts';
import { DOCKER_HUB_KEY, isDockerHubKey, normalizeRegistryKey } from '../../registry/registry-key.ts';
import type { FileRegistry } from './config-file.ts';
import { inSetting, validateMirrorUrl, validateRegistryApiUrl } from '../../registry/url-rules.ts';
import { defaultMirrorUrl, defaultUpstreamUrl, libraryMode } from './registry-urls.ts';
import { printable } from '../../common/printable.ts';
import { acrEntry, ecrEntry, ecrNameParts, garEntry, refuseCloudSettings } from './cloud-entries.ts';

// Service-wide lifetimes a registry inherits unless it sets its own.
export interface DefaultTtls {
  credentialTtlSeconds: number;
  ticketTtlSeconds: number;
  tokenTtlSeconds: number;
}

// A setting's value and the name to blame when it is wrong.
interface Named {
  value: string;
  setting: string;
}

// What decides the server-level default registry: dstack's three variables plus our choices.
export interface DefaultRegistrySettings {
  registry?: string;
  username?: string;
  password?: string;
  source?: Named;
  service?: string;
  mirrorUrl?: Named;
  upstreamUrl?: Named;
  library?: Named;
  projects?: string[];
  realms?: { value: string[]; setting: string };
}

const REGISTRY_VAR = 'DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY';
const USERNAME_VAR = 'DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME';
const PASSWORD_VAR = 'DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD';

// The parts every entry shares, before its source adds its own.
type Base = Pick<RegistryEntry, 'key' | 'projects' | 'aliases' | 'mirrorUrl' | 'library' | 'upstreamUrl' | 'realms'>;

// dstack's meaning: the default registry is where unqualified (Docker Hub) images go, so it is
// served under the Docker Hub key too and listed as a mirror; credentials without a registry
// are Docker Hub credentials (with the broker source, traded at Docker Hub's own realm).
export function defaultRegistryEntry(settings: DefaultRegistrySettings, ttls: DefaultTtls): RegistryEntry | undefined {
  const { registry, username, password } = settings;
  if (username !== undefined && password === undefined)
    throw new CodedError('config_invalid', `${USERNAME_VAR} is set but ${PASSWORD_VAR} is not; set both or neither`);
  if (password !== undefined && username === undefined)
    throw new CodedError('config_invalid', `${PASSWORD_VAR} is set but ${USERNAME_VAR} is not; set both or neither`);
  const sourceSetting = settings.source?.setting ?? 'DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE';
  const source = sourceKind(settings.source?.value ?? 'static', sourceSetting);
  if (source === 'broker' && username === undefined) {
    throw new CodedError(
      'config_invalid',
      `${sourceSetting}=broker needs ${USERNAME_VAR} and ${PASSWORD_VAR}: the account the service trades at the registry's realm for pull tokens`,
    );
  }
  const projects = settings.projects ?? ['*'];
  const upstreamSetting = settings.upstreamUrl;
  const upstreamOverride = upstreamSetting
    ? inSetting(upstreamSetting.setting, () => validateRegistryApiUrl(upstreamSetting.value))
    : undefined;
  if (registry === undefined) {
    if (source === 'issuer')
      throw new CodedError(
        'config_invalid',
        `${sourceSetting}=issuer needs ${REGISTRY_VAR}: Docker Hub does not trust this service's tokens`,
      );
    if (source === 'ecr' || source === 'gar' || source === 'acr')
      throw new CodedError(
        'config_invalid',
        `${sourceSetting}=${source} needs ${REGISTRY_VAR}: the cloud registry's name`,
      );
    if (settings.library)
      throw new CodedError(
        'config_invalid',
        `${settings.library.setting} applies to a Docker Hub mirror; without ${REGISTRY_VAR} the registry is Docker Hub, which names official images library/…`,
      );
    if (username === undefined) return undefined;
    const base: Base = {
      key: DOCKER_HUB_KEY,
      projects,
      aliases: [],
      upstreamUrl: upstreamOverride ?? defaultUpstreamUrl(DOCKER_HUB_KEY, undefined),
      ...realmsOf(settings.realms?.value, settings.realms?.setting ?? ''),
    };
    return source === 'broker'
      ? brokerEntry(base, username, password!)
      : staticEntry(base, username, password!, ttls.credentialTtlSeconds);
  }
  const key = normalize(registry, REGISTRY_VAR);
  const hub = isDockerHubKey(key);
  if (hub && source === 'issuer')
    throw new CodedError(
      'config_invalid',
      `${sourceSetting}=issuer cannot serve Docker Hub (${REGISTRY_VAR}=${registry}); name your own registry`,
    );
  const mirrorSetting = settings.mirrorUrl;
  const mirrorUrl = hub
    ? undefined
    : mirrorSetting
      ? inSetting(mirrorSetting.setting, () => validateMirrorUrl(mirrorSetting.value))
      : defaultMirrorUrl(key);
  if (hub && settings.library)
    throw new CodedError(
      'config_invalid',
      `${settings.library.setting} applies to a Docker Hub mirror, not to Docker Hub itself (${REGISTRY_VAR}=${registry})`,
    );
  const base: Base = {
    key,
    projects,
    aliases: hub ? [] : [DOCKER_HUB_KEY],
    ...(mirrorUrl
      ? {
          mirrorUrl,
          library: settings.library ? libraryMode(settings.library.value, settings.library.setting) : 'keep',
        }
      : {}),
    upstreamUrl: upstreamOverride ?? defaultUpstreamUrl(key, mirrorUrl),
    ...realmsOf(settings.realms?.value, settings.realms?.setting ?? ''),
  };
  if (source === 'issuer') return issuerEntry(base, { service: settings.service ?? key }, ttls);
  if (source === 'broker') return brokerEntry(base, username!, password!);
  if (source === 'ecr' || source === 'gar' || source === 'acr') {
    if (username !== undefined)
      throw new CodedError(
        'config_invalid',
        `${sourceSetting}=${source} mints its own credential: unset ${USERNAME_VAR} and ${PASSWORD_VAR}, which would reach the runner hosts with every job`,
      );
    if (hub)
      throw new CodedError(
        'config_invalid',
        `${sourceSetting}=${source} cannot serve Docker Hub (${REGISTRY_VAR}=${registry}); name the cloud registry`,
      );
    // Only settings from the name here: account and region (ecr); the default credentials (gar, acr).
    if (source === 'ecr' && ecrNameParts(key) === undefined) {
      throw new CodedError(
        'config_invalid',
        `${sourceSetting}=ecr: ${REGISTRY_VAR}=${key} is not an ECR name (<account>.dkr.ecr.<region>.amazonaws.com); for another name list it in DSTACK_REGISTRY_AUTH_CONFIG with account and region`,
      );
    }
    if (source === 'acr') return acrEntry(base, {}, REGISTRY_VAR);
    return source === 'ecr' ? ecrEntry(base, {}, REGISTRY_VAR) : garEntry(base, {}, REGISTRY_VAR);
  }
  if (username === undefined) return { ...base, source: 'static' };
  return staticEntry(base, username, password!, ttls.credentialTtlSeconds);
}

// One entry of the config file's `registries`; `where` names it in errors.
export function fileRegistryEntry(
  raw: FileRegistry,
  where: string,
  env: Record<string, string | undefined>,
  ttls: DefaultTtls,
): RegistryEntry {
  const key = normalize(raw.registry, `${where}.registry`);
  const source = sourceKind(raw.source, `${where}.source`);
  const projects = raw.projects ?? ['*'];
  if (projects.length === 0)
    throw new CodedError('config_invalid', `${where}.projects is empty; list project names or "*"`);
  let mirrorUrl: string | undefined;
  if (raw.mirror === true) mirrorUrl = defaultMirrorUrl(key);
  else if (typeof raw.mirror === 'string') {
    const mirror = raw.mirror;
    mirrorUrl = inSetting(`${where}.mirror`, () => validateMirrorUrl(mirror));
  }
  if (mirrorUrl && isDockerHubKey(key))
    throw new CodedError('config_invalid', `${where}.mirror: Docker Hub cannot be its own mirror`);
  if (raw.library !== undefined && !mirrorUrl)
    throw new CodedError(
      'config_invalid',
      `${where}.library applies to a Docker Hub mirror; set ${where}.mirror too, or drop library`,
    );
  const library: LibraryMode | undefined = mirrorUrl
    ? raw.library === undefined
      ? 'keep'
      : libraryMode(raw.library, `${where}.library`)
    : undefined;
  const upstream = raw.upstream;
  const base: Base = {
    key,
    projects,
    aliases: mirrorUrl ? [DOCKER_HUB_KEY] : [],
    ...(mirrorUrl ? { mirrorUrl, library } : {}),
    upstreamUrl:
      upstream === undefined
        ? defaultUpstreamUrl(key, mirrorUrl)
        : inSetting(`${where}.upstream`, () => validateRegistryApiUrl(upstream)),
    ...realmsOf(raw.realms, `${where}.realms`),
  };
  if (source === 'ecr') return ecrEntry(base, raw, where);
  if (source === 'gar') return garEntry(base, raw, where);
  if (source === 'acr') return acrEntry(base, raw, where);
  refuseCloudSettings(raw, where, source);
  if (source === 'issuer') {
    if (isDockerHubKey(key))
      throw new CodedError('config_invalid', `${where}.source: issuer cannot serve Docker Hub; use static or broker`);
    return issuerEntry(base, raw, ttls, where);
  }
  if (raw.username === undefined)
    throw new CodedError('config_invalid', `${where}.username is required for source ${source}`);
  let password = raw.password;
  if (raw.passwordEnv !== undefined) {
    if (password !== undefined)
      throw new CodedError('config_invalid', `${where}: set password or passwordEnv, not both`);
    password = env[raw.passwordEnv] || undefined;
    if (password === undefined)
      throw new CodedError('config_invalid', `${where}.passwordEnv: the variable ${raw.passwordEnv} is not set`);
  }
  if (password === undefined)
    throw new CodedError('config_invalid', `${where}.password (or passwordEnv) is required for source ${source}`);
  if (source === 'broker') {
    if (raw.credentialTtl !== undefined)
      throw new CodedError(
        'config_invalid',
        `${where}.credentialTtl does not apply to source broker: a registry token lives as long as the registry's realm says`,
      );
    return brokerEntry(base, raw.username, password);
  }
  const ttl =
    raw.credentialTtl === undefined
      ? ttls.credentialTtlSeconds
      : parseDuration(raw.credentialTtl, `${where}.credentialTtl`, MAX_SHORT_LIFETIME_SECONDS);
  return staticEntry(base, raw.username, password, ttl);
}

// `realms`: token realm hosts as host[:port] (src/registry/realm-binding.ts).
function realmsOf(values: string[] | undefined, setting: string): Pick<RegistryEntry, 'realms'> {
  if (values === undefined || values.length === 0) return {};
  return {
    realms: values.map((value) => {
      const host = realmHost(value);
      if (host === undefined)
        throw new CodedError(
          'config_invalid',
          `${setting}: "${value.slice(0, 100)}" is not a token realm host; write host or host:port (no scheme, path or user info), e.g. auth.example.com`,
        );
      return host;
    }),
  };
}

function staticEntry(base: Base, username: string, password: string, ttlSeconds: number): RegistryEntry {
  return { ...base, source: 'static', static: { username, password: new Secret(password), ttlSeconds } };
}

function brokerEntry(base: Base, username: string, password: string): RegistryEntry {
  return { ...base, source: 'broker', broker: { username, password: new Secret(password) } };
}

function issuerEntry(
  base: Base,
  raw: Pick<FileRegistry, 'service' | 'anonymousPull' | 'repositories' | 'ticketTtl' | 'tokenTtl'>,
  ttls: DefaultTtls,
  where = 'default registry',
): RegistryEntry {
  const repositories =
    raw.repositories === undefined
      ? { '*': ['*'] }
      : Array.isArray(raw.repositories)
        ? { '*': raw.repositories }
        : raw.repositories;
  return {
    ...base,
    source: 'issuer',
    issuer: {
      service: raw.service ?? base.key,
      ticketTtlSeconds:
        raw.ticketTtl === undefined
          ? ttls.ticketTtlSeconds
          : parseDuration(raw.ticketTtl, `${where}.ticketTtl`, MAX_SHORT_LIFETIME_SECONDS),
      tokenTtlSeconds:
        raw.tokenTtl === undefined
          ? ttls.tokenTtlSeconds
          : parseDuration(raw.tokenTtl, `${where}.tokenTtl`, MAX_SHORT_LIFETIME_SECONDS),
      anonymousPull: raw.anonymousPull ?? false,
      repositories,
    },
  };
}

const SOURCES: readonly SourceKind[] = ['static', 'issuer', 'broker', 'ecr', 'gar', 'acr'];

function sourceKind(value: string, setting: string): SourceKind {
  if ((SOURCES as readonly string[]).includes(value)) return value as SourceKind;
  throw new CodedError(
    'config_invalid',
    `${setting}: unknown source "${printable(value, 40)}"; use static, issuer, broker, ecr, gar or acr`,
  );
}

function normalize(value: string, setting: string): string {
  try {
    return normalizeRegistryKey(value);
  } catch (error) {
    throw new CodedError('config_invalid', `${setting}: ${(error as Error).message}`);
  }
}
