import { readFile } from 'node:fs/promises';
import { CodedError } from '../../common/errors.ts';

// One registry as written in the config file's `registries` list.
export interface FileRegistry {
  registry: string;
  source: string;
  username?: string;
  password?: string;
  passwordEnv?: string;
  projects?: string[];
  service?: string;
  anonymousPull?: boolean;
  repositories?: string[] | Record<string, string[]>;
  ticketTtl?: string;
  tokenTtl?: string;
  credentialTtl?: string;
  mirror?: boolean | string;
  upstream?: string;
  library?: string;
  realms?: string[];
  account?: string;
  region?: string;
  keyFile?: string;
  tokenUrl?: string;
  tenant?: string;
  tokens?: string;
}

// The optional JSON file named by DSTACK_REGISTRY_AUTH_CONFIG. Every key mirrors a
// DSTACK_REGISTRY_AUTH_* variable (the variable wins), plus the `registries` list.
export interface ConfigFile {
  listen?: string;
  dataDir?: string;
  publicUrl?: string;
  plainHttp?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  adminToken?: string;
  issuer?: string;
  instanceTokenTtl?: string;
  credentialTtl?: string;
  ticketTtl?: string;
  registryTokenTtl?: string;
  databaseUrl?: string;
  auditLog?: string;
  defaultSource?: string;
  defaultService?: string;
  defaultMirrorUrl?: string;
  defaultProjects?: string[];
  defaultUpstreamUrl?: string;
  defaultLibrary?: string;
  defaultRealms?: string[];
  mirrorEndpoint?: boolean;
  registries?: FileRegistry[];
  // Shape-checked by src/service/identity/kubernetes-config.ts.
  kubernetes?: unknown;
}

type Kind = 'string' | 'boolean' | 'string[]' | 'boolean|string' | 'repositories';

const TOP_LEVEL: Record<string, Kind> = {
  listen: 'string',
  dataDir: 'string',
  publicUrl: 'string',
  plainHttp: 'boolean',
  tlsCert: 'string',
  tlsKey: 'string',
  adminToken: 'string',
  issuer: 'string',
  instanceTokenTtl: 'string',
  credentialTtl: 'string',
  ticketTtl: 'string',
  registryTokenTtl: 'string',
  databaseUrl: 'string',
  auditLog: 'string',
  defaultSource: 'string',
  defaultService: 'string',
  defaultMirrorUrl: 'string',
  defaultProjects: 'string[]',
  defaultUpstreamUrl: 'string',
  defaultLibrary: 'string',
  defaultRealms: 'string[]',
  mirrorEndpoint: 'boolean',
};

const REGISTRY: Record<string, Kind> = {
  registry: 'string',
  source: 'string',
  username: 'string',
  password: 'string',
  passwordEnv: 'string',
  projects: 'string[]',
  service: 'string',
  anonymousPull: 'boolean',
  repositories: 'repositories',
  ticketTtl: 'string',
  tokenTtl: 'string',
  credentialTtl: 'string',
  mirror: 'boolean|string',
  upstream: 'string',
  library: 'string',
  realms: 'string[]',
  account: 'string',
  region: 'string',
  keyFile: 'string',
  tokenUrl: 'string',
  tenant: 'string',
  tokens: 'string',
};

// Reads and shape-checks the file; unknown keys are errors, so a typo cannot silently drop a setting.
export async function readConfigFile(path: string): Promise<ConfigFile> {
  const setting = `DSTACK_REGISTRY_AUTH_CONFIG (${path})`;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new CodedError(
      'config_invalid',
      `${setting}: cannot read the file (${code}); point the variable at a readable JSON file`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new CodedError('config_invalid', `${setting}: not valid JSON; fix the file's syntax`);
  }
  if (!isObject(data)) throw new CodedError('config_invalid', `${setting}: the file must hold a JSON object`);
  for (const [key, value] of Object.entries(data)) {
    if (key === 'registries') {
      if (!Array.isArray(value)) throw bad(setting, key, 'must be a list of registries');
      value.forEach((entry, index) => {
        checkRegistry(setting, `registries[${index}]`, entry);
      });
      continue;
    }
    if (key === 'kubernetes') continue;
    const kind = TOP_LEVEL[key];
    if (!kind) throw bad(setting, key, 'is not a known setting');
    checkKind(setting, key, value, kind);
  }
  return data as ConfigFile;
}

function checkRegistry(setting: string, where: string, entry: unknown): void {
  if (!isObject(entry)) throw bad(setting, where, 'must be an object');
  for (const [key, value] of Object.entries(entry)) {
    const kind = REGISTRY[key];
    if (!kind) throw bad(setting, `${where}.${key}`, 'is not a known registry setting');
    checkKind(setting, `${where}.${key}`, value, kind);
  }
  if (typeof entry.registry !== 'string') throw bad(setting, `${where}.registry`, 'is required');
  if (typeof entry.source !== 'string')
    throw bad(setting, `${where}.source`, 'is required (static, issuer, broker, ecr, gar or acr)');
}

function checkKind(setting: string, where: string, value: unknown, kind: Kind): void {
  const isStrings = (v: unknown) => Array.isArray(v) && v.every((item) => typeof item === 'string');
  const ok =
    kind === 'string'
      ? typeof value === 'string'
      : kind === 'boolean'
        ? typeof value === 'boolean'
        : kind === 'string[]'
          ? isStrings(value)
          : kind === 'boolean|string'
            ? typeof value === 'boolean' || typeof value === 'string'
            : isStrings(value) || (isObject(value) && Object.values(value).every(isStrings));
  if (!ok)
    throw bad(
      setting,
      where,
      `must be ${kind === 'repositories' ? 'a list of patterns or an object of project → patterns' : kind.replace('|', ' or ')}`,
    );
}

function bad(setting: string, where: string, why: string): CodedError {
  return new CodedError('config_invalid', `${setting}: ${where} ${why}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
