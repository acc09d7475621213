import { CodedError } from '../../common/errors.ts';

// dstack's default project name, used when a token is minted without one.
export const DEFAULT_PROJECT = 'main';

// 400: room for a Kubernetes service account's instance name, `k8s:<namespace>/<name>@<uid>`
// (63 + 253 + a 36-character uid), so that every identity the service admits can be revoked.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,399}$/;

// Instance ids and project names go into tokens, audit lines and SQL parameters: keep them plain.
export function checkName(value: unknown, what: 'instance' | 'project', code: string): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new CodedError(
      code,
      `${what} must be 1–400 characters of letters, digits and . _ : @ / - (starting with a letter or digit)`,
    );
  }
  return value;
}
