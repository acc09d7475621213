// The distribution (OCI) grammar for what a pull names: repository, tag, digest. Both halves
// check names with it before anything reaches a registry: the host's mirror endpoint (a name
// an engine sent) and the service (a repository a host asks a token for).

// Longest repository name distribution accepts.
export const MAX_REPOSITORY_LENGTH = 255;

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | -+
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^\w[\w.-]{0,127}$/;
// algorithm := component ([+._-] component)*, encoded := [a-zA-Z0-9=_-]+
const DIGEST = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
// Registered algorithms have a fixed hex length; unknown ones pass on the generic rule.
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };

// Why a name is not a repository, or undefined when it is one.
export function repositoryProblem(name: string): string | undefined {
  if (name.length === 0) return 'the repository name is empty';
  if (name.length > MAX_REPOSITORY_LENGTH)
    return `the repository name is longer than ${MAX_REPOSITORY_LENGTH} characters`;
  if (!REPOSITORY.test(name))
    return 'a repository name is lower-case path components of [a-z0-9] joined by ".", "_", "__" or "-", separated by "/"';
  return undefined;
}

export function isRepositoryName(name: string): boolean {
  return repositoryProblem(name) === undefined;
}

export function isTag(text: string): boolean {
  return TAG.test(text);
}

export function isDigest(text: string): boolean {
  const match = DIGEST.exec(text);
  if (!match) return false;
  const hexLength = DIGEST_HEX_LENGTH[match[1]!];
  return hexLength === undefined || new RegExp(`^[a-f0-9]{${hexLength}}$`).test(match[2]!);
}

// A manifest reference: a tag or a digest.
export function isReference(text: string): boolean {
  return isTag(text) || isDigest(text);
}
