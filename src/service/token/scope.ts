// Scopes of the distribution token specification: `type[(class)]:name:action[,action…]`.
// A request may carry several `scope` parameters, each with several space-separated scopes;
// names may contain `host:port` (so the type ends at the first colon and the actions start
// after the last one), and the order of actions carries no meaning.

export interface RequestedScope {
  type: string;
  // The resource class in `repository(plugin)`, when one was given.
  resourceClass?: string;
  name: string;
  // Sorted, without duplicates or empty entries.
  actions: string[];
}

// One access entry of a registry token's `access` claim.
export interface GrantedAccess {
  type: string;
  name: string;
  actions: string[];
}

const RESOURCE_TYPE = /^([a-z0-9]+)(?:\(([a-z0-9]+)\))?$/;
// The reference grammar's repository name, optionally behind a registry host[:port].
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const HOST =
  '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?';
const RESOURCE_NAME = new RegExp(`^${HOST}${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const ACTION = /^(?:[a-z]+|\*)$/;
const MAX_SCOPES = 64;
const MAX_SCOPE_LENGTH = 512;

// Parses every scope of the given `scope` parameter values; anything malformed is dropped,
// because the spec lets a token server grant less than asked and junk can only be granted nothing.
export function parseScopes(values: readonly string[]): RequestedScope[] {
  const scopes: RequestedScope[] = [];
  for (const value of values) {
    for (const text of value.split(/[ \t]+/)) {
      if (scopes.length >= MAX_SCOPES) return scopes;
      const scope = parseScope(text);
      if (scope) scopes.push(scope);
    }
  }
  return scopes;
}

export function parseScope(text: string): RequestedScope | undefined {
  if (text === '' || text.length > MAX_SCOPE_LENGTH) return undefined;
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first === -1 || last === first) return undefined;
  const typeMatch = RESOURCE_TYPE.exec(text.slice(0, first));
  const name = text.slice(first + 1, last);
  if (!typeMatch || !isResourceName(typeMatch[1]!, name)) return undefined;
  const actions = [
    ...new Set(
      text
        .slice(last + 1)
        .split(',')
        .filter((action) => action !== ''),
    ),
  ].sort();
  if (actions.length === 0 || !actions.every((action) => ACTION.test(action))) return undefined;
  const scope: RequestedScope = { type: typeMatch[1]!, name, actions };
  if (typeMatch[2] !== undefined) scope.resourceClass = typeMatch[2];
  return scope;
}

// `registry:catalog:*` names no repository; repository names follow the reference grammar.
function isResourceName(type: string, name: string): boolean {
  if (type === 'repository') return name.length <= 255 && RESOURCE_NAME.test(name);
  return /^[a-z0-9._/-]+$/.test(name);
}

// The scope as the audit log shows it, e.g. `repository:library/python:pull,push`.
export function formatScope(scope: RequestedScope): string {
  const type = scope.resourceClass === undefined ? scope.type : `${scope.type}(${scope.resourceClass})`;
  return `${type}:${scope.name}:${scope.actions.join(',')}`;
}
