import { CodedError } from '../../common/errors.ts';

// dstack's default project name, used when a token is minted without one.
export const DEFAULT_PROJECT = 'main';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}$/;

// Instance ids and project names go into tokens, audit lines and SQL parameters: keep them plain.
export function checkName(value: unknown, what: 'instance' | 'project', code: string): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new CodedError(
      code,
      `${what} must be 1–200 characters of letters, digits and . _ : @ / - (starting with a letter or digit)`,
    );
  }
  return value;
}
