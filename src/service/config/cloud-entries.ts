import type { RegistryEntry } from '../core/ports.ts';
import { CodedError } from '../../common/errors.ts';
import { printable } from '../../common/printable.ts';
import { inSetting, validateHttpUrl } from '../../registry/url-rules.ts';
import { isDockerHubKey } from '../../registry/registry-key.ts';

// The parts every entry shares, before its source adds its own.
type Base = Pick<RegistryEntry, 'key' | 'projects' | 'aliases' | 'mirrorUrl' | 'library' | 'upstreamUrl' | 'realms'>;

// The settings only a cloud source reads; anything meant for a password-based source is refused.
export interface CloudSettings {
  account?: string;
  region?: string;
  keyFile?: string;
  tokenUrl?: string;
  tenant?: string;
  tokens?: string;
  username?: string;
  password?: string;
  passwordEnv?: string;
  credentialTtl?: string;
}

// `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`: AWS's own registry names.
const ECR_NAME = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$/;

// Account and region as the registry name gives them, when it is an ECR name.
export function ecrNameParts(key: string): { account: string; region: string } | undefined {
  const match = ECR_NAME.exec(key);
  return match ? { account: match[1]!, region: match[2]! } : undefined;
}

// An `ecr` registry: account and region from its name, or from `account` and `region` for one
// reached under another name (a VPC endpoint alias, a test registry). The key never leaves
// the server's credential chain, so there is no password setting.
export function ecrEntry(base: Base, raw: CloudSettings, where: string): RegistryEntry {
  refuseDockerHub(base, where, 'ecr');
  refuseOthers(raw, where, 'ecr', ['keyFile', 'tokenUrl', 'tenant', 'tokens']);
  const named = ecrNameParts(base.key);
  const account = raw.account ?? named?.account;
  const region = raw.region ?? named?.region;
  if (account === undefined || region === undefined) {
    throw new CodedError(
      'config_invalid',
      `${where}: ${base.key} is not an ECR name (<account>.dkr.ecr.<region>.amazonaws.com); set ${where}.account and ${where}.region`,
    );
  }
  if (!/^\d{12}$/.test(account))
    throw new CodedError(
      'config_invalid',
      `${where}.account: "${printable(account, 20)}" is not a 12-digit AWS account id`,
    );
  if (!/^[a-z]{2}(?:-[a-z]+)+-\d+$/.test(region))
    throw new CodedError(
      'config_invalid',
      `${where}.region: "${printable(region, 30)}" is not an AWS region such as us-east-1`,
    );
  return { ...base, source: 'ecr', ecr: { account, region } };
}

// A `gar` registry (Artifact Registry, gcr.io): a service-account key file, or without one the
// identity of the server's metadata server.
export function garEntry(base: Base, raw: CloudSettings, where: string): RegistryEntry {
  refuseDockerHub(base, where, 'gar');
  refuseOthers(raw, where, 'gar', ['account', 'region', 'tenant', 'tokens']);
  const givenTokenUrl = raw.tokenUrl;
  const tokenUrl =
    givenTokenUrl === undefined ? undefined : inSetting(`${where}.tokenUrl`, () => validateHttpUrl(givenTokenUrl));
  if (tokenUrl !== undefined && raw.keyFile === undefined)
    throw new CodedError(
      'config_invalid',
      `${where}.tokenUrl applies to a service-account key file; set ${where}.keyFile too, or drop tokenUrl`,
    );
  return {
    ...base,
    source: 'gar',
    gar: {
      ...(raw.keyFile !== undefined ? { keyFile: raw.keyFile } : {}),
      ...(tokenUrl !== undefined ? { tokenUrl } : {}),
    },
  };
}

// An `acr` registry: the server's Entra ID identity (a client secret or certificate in the
// environment, workload identity, or managed identity), exchanged at the registry's
// /oauth2/exchange for an ACR refresh token.
export function acrEntry(base: Base, raw: CloudSettings, where: string): RegistryEntry {
  refuseDockerHub(base, where, 'acr');
  refuseOthers(raw, where, 'acr', ['account', 'region', 'keyFile', 'tokenUrl']);
  if (raw.tenant !== undefined && !/^[A-Za-z0-9.-]{1,100}$/.test(raw.tenant))
    throw new CodedError(
      'config_invalid',
      `${where}.tenant: "${printable(raw.tenant, 40)}" is not a tenant id or domain`,
    );
  if (raw.tokens !== undefined && raw.tokens !== 'registry' && raw.tokens !== 'repository')
    throw new CodedError(
      'config_invalid',
      `${where}.tokens: "${printable(raw.tokens, 20)}" is not registry (hosts get the ACR refresh token) or repository (hosts get a pull token for one repository)`,
    );
  return {
    ...base,
    source: 'acr',
    acr: {
      ...(raw.tenant !== undefined ? { tenant: raw.tenant } : {}),
      ...(raw.tokens === 'repository' ? { tokens: 'repository' as const } : {}),
    },
  };
}

// Docker Hub takes no cloud identity; its pull-through cache in the cloud is the registry to name.
function refuseDockerHub(base: Base, where: string, source: string): void {
  if (isDockerHubKey(base.key))
    throw new CodedError(
      'config_invalid',
      `${where}: source ${source} cannot serve Docker Hub; name the cloud registry (its pull-through cache) and set mirror`,
    );
}

// A password on a cloud source would be ignored, and the operator would think it is used.
function refuseOthers(raw: CloudSettings, where: string, source: string, foreign: (keyof CloudSettings)[]): void {
  for (const key of ['username', 'password', 'passwordEnv', 'credentialTtl', ...foreign] as const) {
    if (raw[key] !== undefined) {
      throw new CodedError(
        'config_invalid',
        `${where}.${key} does not apply to source ${source}: the service mints the credential with its own cloud identity (docs/cloud-registries.md)`,
      );
    }
  }
}

// The cloud settings on a source that does not read them.
export function refuseCloudSettings(raw: CloudSettings, where: string, source: string): void {
  for (const key of ['account', 'region', 'keyFile', 'tokenUrl', 'tenant', 'tokens'] as const) {
    if (raw[key] !== undefined)
      throw new CodedError(
        'config_invalid',
        `${where}.${key} applies to the cloud sources (ecr, gar, acr), not ${source}`,
      );
  }
}
