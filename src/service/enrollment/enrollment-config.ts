import { readFile } from 'node:fs/promises';
import { CodedError } from '../../common/errors.ts';
import { parseDuration } from '../../common/duration.ts';
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

// Enrollment by cloud identity, from the JSON file DSTACK_REGISTRY_AUTH_ENROLLMENT_CONFIG
// names (docs/enrollment.md). No file: enrollment is off and POST /v1/enroll answers 404.
export interface EnrollmentConfig {
  tokenTtlSeconds?: number;
  aws?: AwsEnrollment;
}

export async function loadEnrollmentConfig(env: Record<string, string | undefined>): Promise<EnrollmentConfig | undefined> {
  const path = env[ENROLLMENT_CONFIG_VARIABLE]?.trim();
  if (!path) return undefined;
  const where = `${ENROLLMENT_CONFIG_VARIABLE} (${path})`;
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CodedError('config_invalid', code ? `cannot read ${where} (${code}); fix the path or unset it` : `${where} is not valid JSON; fix the file`);
  }
  const file = object(raw, where);
  known(file, ['tokenTtl', 'aws'], where);
  const config: EnrollmentConfig = {};
  if (file.tokenTtl !== undefined) config.tokenTtlSeconds = checkInstanceTokenTtl(parseDuration(string(file.tokenTtl, `${where}: tokenTtl`), `${where}: tokenTtl`), `${where}: tokenTtl`, 'config_invalid');
  if (file.aws !== undefined) config.aws = await awsEnrollment(object(file.aws, `${where}: aws`), `${where}: aws`);
  return config;
}

async function awsEnrollment(aws: Record<string, unknown>, where: string): Promise<AwsEnrollment> {
  known(aws, ['accounts', 'pendingTimeWindow', 'additionalTrustAnchors'], where);
  if (!Array.isArray(aws.accounts) || aws.accounts.length === 0) throw new CodedError('config_invalid', `${where}.accounts must list at least one {"accountId", "project"}`);
  const accounts = aws.accounts.map((entry, index) => {
    const at = `${where}.accounts[${index}]`;
    const rule = object(entry, at);
    known(rule, ['accountId', 'project', 'regions', 'reenroll'], at);
    const accountId = string(rule.accountId, `${at}.accountId`);
    if (!/^\d{12}$/.test(accountId)) throw new CodedError('config_invalid', `${at}.accountId must be a 12-digit AWS account id`);
    const project = (() => {
      try {
        return checkName(rule.project, 'project', 'config_invalid');
      } catch (error) {
        throw new CodedError('config_invalid', `${at}.project: ${(error as Error).message}`);
      }
    })();
    return { accountId, project, regions: strings(rule.regions, `${at}.regions`), reenroll: strings(rule.reenroll, `${at}.reenroll`) };
  });
  const seen = new Set<string>();
  for (const { accountId } of accounts) {
    if (seen.has(accountId)) throw new CodedError('config_invalid', `${where}.accounts: account ${accountId} is listed twice; list each account once`);
    seen.add(accountId);
  }
  const window = aws.pendingTimeWindow === undefined ? '15m' : string(aws.pendingTimeWindow, `${where}.pendingTimeWindow`);
  const anchorsPath = aws.additionalTrustAnchors === undefined ? undefined : string(aws.additionalTrustAnchors, `${where}.additionalTrustAnchors`);
  return {
    accounts,
    pendingTimeWindowSeconds: parseDuration(window, `${where}.pendingTimeWindow`),
    additionalTrustAnchors: anchorsPath === undefined ? [] : await readPemCertificates(anchorsPath, `${where}.additionalTrustAnchors`),
  };
}

async function readPemCertificates(path: string, where: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CodedError('config_invalid', `${where}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); fix the path`);
  }
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw new CodedError('config_invalid', `${where}: ${path} holds no PEM certificate`);
  return pems;
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CodedError('config_invalid', `${where} must be a JSON object`);
  return value as Record<string, unknown>;
}

function string(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new CodedError('config_invalid', `${where} must be a non-empty string`);
  return value.trim();
}

function strings(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) throw new CodedError('config_invalid', `${where} must be a list of strings`);
  return value as string[];
}

// A misspelt key would silently drop a rule the operator meant; refuse it instead.
function known(value: Record<string, unknown>, keys: string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) throw new CodedError('config_invalid', `${where}: unknown key "${key.slice(0, 40)}"; known keys: ${keys.join(', ')}`);
  }
}
