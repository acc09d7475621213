import { CodedError } from '../common/errors.ts';

// The distribution reference grammar's repository name (`library/python`,
// `dockerhub-proxy/library/python`): lower-case path components joined by `/`, each made of
// [a-z0-9] runs separated by `.`, `_`, `__` or dashes; at most 255 characters in all. No host,
// tag or digest. Checked before a name reaches a registry, a realm's scope or a cache key.
export const MAX_REPOSITORY_NAME_LENGTH = 255;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY_NAME = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);

export function isRepositoryName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_REPOSITORY_NAME_LENGTH && REPOSITORY_NAME.test(value);
}

// The name itself, or a `repository_invalid` error that names the rule (the value is echoed
// shortened: it came from a request).
export function checkRepositoryName(value: unknown): string {
  if (isRepositoryName(value)) return value;
  const shown = typeof value === 'string' ? `"${value.slice(0, 80)}${value.length > 80 ? '…' : ''}"` : typeof value;
  throw new CodedError(
    'repository_invalid',
    `invalid repository name ${shown}: expected lower-case path components such as library/python (letters, digits, and . _ __ - between them, at most ${MAX_REPOSITORY_NAME_LENGTH} characters, no tag or digest)`,
  );
}
