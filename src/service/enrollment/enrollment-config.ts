import { readFile } from 'node:fs/promises';
import { CodedError } from '../../common/errors.ts';
import { parseDuration } from '../../common/duration.ts';
import { inSetting, validateHttpUrl } from '../../registry/url-rules.ts';
import { checkName } from '../core/instance-names.ts';
import { checkInstanceTokenTtl } from '../token/instance-token.ts';

export const ENROLLMENT_CONFIG_VARIABLE = 'DSTACK_REGISTRY_AUTH_ENROLLMENT_CONFIG';

// One AWS account whose instances may enroll, and the dstack project they serve.
export interface AwsAccountRule {
  accountId: string;
  project: string;
  // Empty: every region.
  regions: string[];
  // Instance ids the operator allows to enroll again (a VM whose token was lost).
  reenroll: string[];
}

export interface AwsEnrollment {
  accounts: AwsAccountRule[];
  // How long after the instance's launch (pendingTime) its document is taken.
  pendingTimeWindowSeconds: number;
  // PEM certificates trusted besides AWS's own (tests' CA, a private partition); their keys sign documents.
  additionalTrustAnchors: string[];
}

// One GCP project whose instances may enroll, and the dstack project they serve.
export interface GcpProjectRule {
  projectId: string;
  project: string;
  // Empty: every zone.
  zones: string[];
  reenroll: string[];
}

export interface GcpEnrollment {
  projects: GcpProjectRule[];
  // Google's signing keys (a JWKS URL; they rotate, so they are fetched, not embedded).
  certificatesUrl: string;
  // JWKs trusted besides Google's (tests' key): the JSON text of a JWKS file.
  additionalTrustAnchors: { keys: unknown[] } | undefined;
}

// One Azure subscription whose VMs may enroll, and the dstack project they serve.
export interface AzureSubscriptionRule {
  subscriptionId: string;
  project: string;
  reenroll: string[];
}

export interface AzureEnrollment {
  subscriptions: AzureSubscriptionRule[];
  // The signer's SAN must be one of these or under one (default: metadata.azure.com).
  metadataDomains: string[];
  // PEM certificates trusted as roots besides the embedded Microsoft/DigiCert ones (tests' CA).
  additionalTrustAnchors: string[];
}

export const GOOGLE_CERTIFICATES_URL = 'https://www.googleapis.com/oauth2/v3/certs';

// Enrollment by cloud identity, from the JSON file DSTACK_REGISTRY_AUTH_ENROLLMENT_CONFIG
// names (docs/enrollment.md). No file: enrollment is off and POST /v1/enroll answers 404.
export interface EnrollmentConfig {
  tokenTtlSeconds?: number;
  // How long a nonce the service issued (GCP audience, Azure nonce) may be used, once.
  nonceTtlSeconds: number;
  aws?: AwsEnrollment;
  gcp?: GcpEnrollment;
  azure?: AzureEnrollment;
}

export async function loadEnrollmentConfig(
  env: Record<string, string | undefined>,
): Promise<EnrollmentConfig | undefined> {
  const path = env[ENROLLMENT_CONFIG_VARIABLE]?.trim();
  if (!path) return undefined;
  const where = `${ENROLLMENT_CONFIG_VARIABLE} (${path})`;
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CodedError(
      'config_invalid',
      code ? `cannot read ${where} (${code}); fix the path or unset it` : `${where} is not valid JSON; fix the file`,
    );
  }
  const file = object(raw, where);
  known(file, ['tokenTtl', 'nonceTtl', 'aws', 'gcp', 'azure'], where);
  const nonceTtl = file.nonceTtl === undefined ? '5m' : string(file.nonceTtl, `${where}: nonceTtl`);
  const config: EnrollmentConfig = { nonceTtlSeconds: parseDuration(nonceTtl, `${where}: nonceTtl`, 3600) };
  if (file.tokenTtl !== undefined)
    config.tokenTtlSeconds = checkInstanceTokenTtl(
      parseDuration(string(file.tokenTtl, `${where}: tokenTtl`), `${where}: tokenTtl`),
      `${where}: tokenTtl`,
      'config_invalid',
    );
  if (file.aws !== undefined) config.aws = await awsEnrollment(object(file.aws, `${where}: aws`), `${where}: aws`);
  if (file.gcp !== undefined) config.gcp = await gcpEnrollment(object(file.gcp, `${where}: gcp`), `${where}: gcp`);
  if (file.azure !== undefined)
    config.azure = await azureEnrollment(object(file.azure, `${where}: azure`), `${where}: azure`);
  return config;
}

async function awsEnrollment(aws: Record<string, unknown>, where: string): Promise<AwsEnrollment> {
  known(aws, ['accounts', 'pendingTimeWindow', 'additionalTrustAnchors'], where);
  if (!Array.isArray(aws.accounts) || aws.accounts.length === 0)
    throw new CodedError('config_invalid', `${where}.accounts must list at least one {"accountId", "project"}`);
  const accounts = aws.accounts.map((entry, index) => {
    const at = `${where}.accounts[${index}]`;
    const rule = object(entry, at);
    known(rule, ['accountId', 'project', 'regions', 'reenroll'], at);
    const accountId = string(rule.accountId, `${at}.accountId`);
    if (!/^\d{12}$/.test(accountId))
      throw new CodedError('config_invalid', `${at}.accountId must be a 12-digit AWS account id`);
    return {
      accountId,
      project: dstackProject(rule.project, `${at}.project`),
      regions: strings(rule.regions, `${at}.regions`),
      reenroll: strings(rule.reenroll, `${at}.reenroll`),
    };
  });
  const seen = new Set<string>();
  for (const { accountId } of accounts) {
    if (seen.has(accountId))
      throw new CodedError(
        'config_invalid',
        `${where}.accounts: account ${accountId} is listed twice; list each account once`,
      );
    seen.add(accountId);
  }
  const window =
    aws.pendingTimeWindow === undefined ? '15m' : string(aws.pendingTimeWindow, `${where}.pendingTimeWindow`);
  const anchorsPath =
    aws.additionalTrustAnchors === undefined
      ? undefined
      : string(aws.additionalTrustAnchors, `${where}.additionalTrustAnchors`);
  return {
    accounts,
    pendingTimeWindowSeconds: parseDuration(window, `${where}.pendingTimeWindow`),
    additionalTrustAnchors:
      anchorsPath === undefined ? [] : await readPemCertificates(anchorsPath, `${where}.additionalTrustAnchors`),
  };
}

async function gcpEnrollment(gcp: Record<string, unknown>, where: string): Promise<GcpEnrollment> {
  known(gcp, ['projects', 'certificatesUrl', 'additionalTrustAnchors'], where);
  if (!Array.isArray(gcp.projects) || gcp.projects.length === 0)
    throw new CodedError('config_invalid', `${where}.projects must list at least one {"projectId", "project"}`);
  const projects = gcp.projects.map((entry, index) => {
    const at = `${where}.projects[${index}]`;
    const rule = object(entry, at);
    known(rule, ['projectId', 'project', 'zones', 'reenroll'], at);
    const projectId = string(rule.projectId, `${at}.projectId`);
    if (!/^[a-z][a-z0-9-]{4,61}[a-z0-9]$/.test(projectId) && !/^[a-z0-9.-]+:[a-z][a-z0-9-]+$/.test(projectId))
      throw new CodedError('config_invalid', `${at}.projectId must be a GCP project id such as my-project-123`);
    return {
      projectId,
      project: dstackProject(rule.project, `${at}.project`),
      zones: strings(rule.zones, `${at}.zones`),
      reenroll: strings(rule.reenroll, `${at}.reenroll`),
    };
  });
  const certificatesUrl =
    gcp.certificatesUrl === undefined
      ? GOOGLE_CERTIFICATES_URL
      : string(gcp.certificatesUrl, `${where}.certificatesUrl`);
  // Checked, and kept as given: a trailing slash is part of the key set's address.
  inSetting(`${where}.certificatesUrl`, () => validateHttpUrl(certificatesUrl));
  let additionalTrustAnchors: { keys: unknown[] } | undefined;
  if (gcp.additionalTrustAnchors !== undefined) {
    const path = string(gcp.additionalTrustAnchors, `${where}.additionalTrustAnchors`);
    let jwks: unknown;
    try {
      jwks = JSON.parse(await readFile(path, 'utf8'));
    } catch (error) {
      throw new CodedError(
        'config_invalid',
        `${where}.additionalTrustAnchors: cannot read ${path} as a JWKS (${(error as NodeJS.ErrnoException).code ?? 'not JSON'})`,
      );
    }
    if (typeof jwks !== 'object' || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys))
      throw new CodedError(
        'config_invalid',
        `${where}.additionalTrustAnchors: ${path} is not a JWKS ({"keys": [...]})`,
      );
    additionalTrustAnchors = jwks as { keys: unknown[] };
  }
  return { projects, certificatesUrl, additionalTrustAnchors };
}

async function azureEnrollment(azure: Record<string, unknown>, where: string): Promise<AzureEnrollment> {
  known(azure, ['subscriptions', 'metadataDomains', 'additionalTrustAnchors'], where);
  if (!Array.isArray(azure.subscriptions) || azure.subscriptions.length === 0)
    throw new CodedError(
      'config_invalid',
      `${where}.subscriptions must list at least one {"subscriptionId", "project"}`,
    );
  const subscriptions = azure.subscriptions.map((entry, index) => {
    const at = `${where}.subscriptions[${index}]`;
    const rule = object(entry, at);
    known(rule, ['subscriptionId', 'project', 'reenroll'], at);
    const subscriptionId = string(rule.subscriptionId, `${at}.subscriptionId`).toLowerCase();
    if (!UUID.test(subscriptionId))
      throw new CodedError('config_invalid', `${at}.subscriptionId must be a subscription id (a UUID)`);
    return {
      subscriptionId,
      project: dstackProject(rule.project, `${at}.project`),
      reenroll: strings(rule.reenroll, `${at}.reenroll`).map((id) => id.toLowerCase()),
    };
  });
  const domains =
    azure.metadataDomains === undefined
      ? ['metadata.azure.com']
      : strings(azure.metadataDomains, `${where}.metadataDomains`);
  const anchorsPath =
    azure.additionalTrustAnchors === undefined
      ? undefined
      : string(azure.additionalTrustAnchors, `${where}.additionalTrustAnchors`);
  return {
    subscriptions,
    metadataDomains: domains.map((d) => d.toLowerCase()),
    additionalTrustAnchors:
      anchorsPath === undefined ? [] : await readPemCertificates(anchorsPath, `${where}.additionalTrustAnchors`),
  };
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function dstackProject(value: unknown, where: string): string {
  try {
    return checkName(value, 'project', 'config_invalid');
  } catch (error) {
    throw new CodedError('config_invalid', `${where}: ${(error as Error).message}`);
  }
}

async function readPemCertificates(path: string, where: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CodedError(
      'config_invalid',
      `${where}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); fix the path`,
    );
  }
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw new CodedError('config_invalid', `${where}: ${path} holds no PEM certificate`);
  return pems;
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new CodedError('config_invalid', `${where} must be a JSON object`);
  return value as Record<string, unknown>;
}

function string(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw new CodedError('config_invalid', `${where} must be a non-empty string`);
  return value.trim();
}

function strings(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== ''))
    throw new CodedError('config_invalid', `${where} must be a list of strings`);
  return value as string[];
}

// A misspelt key would silently drop a rule the operator meant; refuse it instead.
function known(value: Record<string, unknown>, keys: string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key))
      throw new CodedError(
        'config_invalid',
        `${where}: unknown key "${key.slice(0, 40)}"; known keys: ${keys.join(', ')}`,
      );
  }
}
