import type { RegistryEntry, SourceKind } from '../core/ports.ts';
import { Secret } from '../../common/secret.ts';
import { CodedError } from '../../common/errors.ts';
import { MAX_SHORT_LIFETIME_SECONDS, parseDuration } from '../../common/duration.ts';
import { DOCKER_HUB_KEY, isDockerHubKey, normalizeRegistryKey } from '../../registry/registry-key.ts';
import type { FileRegistry } from './config-file.ts';
import { hostOf, isLoopbackHost } from '../../registry/loopback.ts';
import { checkMirrorUrl } from './http-url.ts';
import { printable } from '../../common/printable.ts';

// Service-wide lifetimes a registry inherits unless it sets its own.
export interface DefaultTtls {
  credentialTtlSeconds: number;
  ticketTtlSeconds: number;
  tokenTtlSeconds: number;
}

// What decides the server-level default registry: dstack's three variables plus our choices.
export interface DefaultRegistrySettings {
  registry?: string;
  username?: string;
  password?: string;
  source?: { value: string; setting: string };
  service?: string;
  mirrorUrl?: { value: string; setting: string };
  projects?: string[];
}

const REGISTRY_VAR = 'DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY';
const USERNAME_VAR = 'DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME';
const PASSWORD_VAR = 'DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD';

// dstack's meaning: the default registry is where unqualified (Docker Hub) images go, so it is
// served under the Docker Hub key too and listed as a mirror; credentials without a registry
// are Docker Hub credentials.
export function defaultRegistryEntry(settings: DefaultRegistrySettings, ttls: DefaultTtls): RegistryEntry | undefined {
  const { registry, username, password } = settings;
  if (username !== undefined && password === undefined) throw new CodedError('config_invalid', `${USERNAME_VAR} is set but ${PASSWORD_VAR} is not; set both or neither`);
  if (password !== undefined && username === undefined) throw new CodedError('config_invalid', `${PASSWORD_VAR} is set but ${USERNAME_VAR} is not; set both or neither`);
  const sourceSetting = settings.source?.setting ?? 'DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE';
  const source = sourceKind(settings.source?.value ?? 'static', sourceSetting);
  if (registry === undefined) {
    if (settings.source?.value === 'issuer') throw new CodedError('config_invalid', `${sourceSetting}=issuer needs ${REGISTRY_VAR}: Docker Hub does not trust this service's tokens`);
    if (username === undefined) return undefined;
    return staticEntry(DOCKER_HUB_KEY, [], undefined, settings.projects ?? ['*'], username, password!, ttls.credentialTtlSeconds);
  }
  const key = normalize(registry, REGISTRY_VAR);
  const hub = isDockerHubKey(key);
  if (hub && source === 'issuer') throw new CodedError('config_invalid', `${sourceSetting}=issuer cannot serve Docker Hub (${REGISTRY_VAR}=${registry}); name your own registry`);
  const aliases = hub ? [] : [DOCKER_HUB_KEY];
  const mirrorUrl = hub ? undefined : settings.mirrorUrl ? checkMirrorUrl(settings.mirrorUrl.value, settings.mirrorUrl.setting) : defaultMirrorUrl(key);
  const projects = settings.projects ?? ['*'];
  if (source === 'issuer') return issuerEntry(key, aliases, mirrorUrl, projects, { service: settings.service ?? key }, ttls);
  if (username === undefined) return { key, source: 'static', projects, aliases, ...(mirrorUrl ? { mirrorUrl } : {}) };
  return staticEntry(key, aliases, mirrorUrl, projects, username, password!, ttls.credentialTtlSeconds);
}

// One entry of the config file's `registries`; `where` names it in errors.
export function fileRegistryEntry(raw: FileRegistry, where: string, env: Record<string, string | undefined>, ttls: DefaultTtls): RegistryEntry {
  const key = normalize(raw.registry, `${where}.registry`);
  const source = sourceKind(raw.source, `${where}.source`);
  const projects = raw.projects ?? ['*'];
  if (projects.length === 0) throw new CodedError('config_invalid', `${where}.projects is empty; list project names or "*"`);
  let mirrorUrl: string | undefined;
  if (raw.mirror === true) mirrorUrl = defaultMirrorUrl(key);
  else if (typeof raw.mirror === 'string') mirrorUrl = checkMirrorUrl(raw.mirror, `${where}.mirror`);
  if (mirrorUrl && isDockerHubKey(key)) throw new CodedError('config_invalid', `${where}.mirror: Docker Hub cannot be its own mirror`);
  const aliases = mirrorUrl ? [DOCKER_HUB_KEY] : [];
  if (source === 'issuer') {
    if (isDockerHubKey(key)) throw new CodedError('config_invalid', `${where}.source: issuer cannot serve Docker Hub; use static`);
    return issuerEntry(key, aliases, mirrorUrl, projects, raw, ttls, where);
  }
  if (raw.username === undefined) throw new CodedError('config_invalid', `${where}.username is required for source static`);
  let password = raw.password;
  if (raw.passwordEnv !== undefined) {
    if (password !== undefined) throw new CodedError('config_invalid', `${where}: set password or passwordEnv, not both`);
    password = env[raw.passwordEnv] || undefined;
    if (password === undefined) throw new CodedError('config_invalid', `${where}.passwordEnv: the variable ${raw.passwordEnv} is not set`);
  }
  if (password === undefined) throw new CodedError('config_invalid', `${where}.password (or passwordEnv) is required for source static`);
  const ttl = raw.credentialTtl === undefined ? ttls.credentialTtlSeconds : parseDuration(raw.credentialTtl, `${where}.credentialTtl`, MAX_SHORT_LIFETIME_SECONDS);
  return staticEntry(key, aliases, mirrorUrl, projects, raw.username, password, ttl);
}

// Where engines reach a mirror: https, or http for a registry on loopback (engines treat those as insecure-allowed).
export function defaultMirrorUrl(key: string): string {
  return `${isLoopbackHost(hostOf(key)) ? 'http' : 'https'}://${key}`;
}

function staticEntry(key: string, aliases: string[], mirrorUrl: string | undefined, projects: string[], username: string, password: string, ttlSeconds: number): RegistryEntry {
  return { key, source: 'static', projects, aliases, ...(mirrorUrl ? { mirrorUrl } : {}), static: { username, password: new Secret(password), ttlSeconds } };
}

function issuerEntry(
  key: string,
  aliases: string[],
  mirrorUrl: string | undefined,
  projects: string[],
  raw: Pick<FileRegistry, 'service' | 'anonymousPull' | 'repositories' | 'ticketTtl' | 'tokenTtl'>,
  ttls: DefaultTtls,
  where = 'default registry',
): RegistryEntry {
  const repositories = raw.repositories === undefined ? { '*': ['*'] } : Array.isArray(raw.repositories) ? { '*': raw.repositories } : raw.repositories;
  return {
    key,
    source: 'issuer',
    projects,
    aliases,
    ...(mirrorUrl ? { mirrorUrl } : {}),
    issuer: {
      service: raw.service ?? key,
      ticketTtlSeconds: raw.ticketTtl === undefined ? ttls.ticketTtlSeconds : parseDuration(raw.ticketTtl, `${where}.ticketTtl`, MAX_SHORT_LIFETIME_SECONDS),
      tokenTtlSeconds: raw.tokenTtl === undefined ? ttls.tokenTtlSeconds : parseDuration(raw.tokenTtl, `${where}.tokenTtl`, MAX_SHORT_LIFETIME_SECONDS),
      anonymousPull: raw.anonymousPull ?? false,
      repositories,
    },
  };
}

function sourceKind(value: string, setting: string): SourceKind {
  if (value === 'static' || value === 'issuer') return value;
  throw new CodedError('config_invalid', `${setting}: unknown source "${printable(value, 40)}"; use static or issuer`);
}

function normalize(value: string, setting: string): string {
  try {
    return normalizeRegistryKey(value);
  } catch (error) {
    throw new CodedError('config_invalid', `${setting}: ${(error as Error).message}`);
  }
}
