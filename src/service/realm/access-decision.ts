import type { RegistryEntry } from '../core/ports.ts';
import type { GrantedAccess, RequestedScope } from '../token/scope.ts';
import { formatScope } from '../token/scope.ts';
import { projectMayUse } from '../core/project-access.ts';

// Why a requested scope (or part of it) was not granted; stable strings for audit and metrics.
export type DenialReason =
  | 'anonymous'
  | 'project_not_allowed'
  | 'not_a_repository'
  | 'pull_only'
  | 'repository_not_allowed';

export interface AccessDecision {
  access: GrantedAccess[];
  denials: { scope: string; reason: DenialReason }[];
}

// Who asks: a verified ticket's project, or nobody (an anonymous request).
export type Requester = { project: string } | undefined;

// The realm's whole policy: `pull` only, on `repository` resources whose name matches the
// project's patterns (RegistryEntry.issuer.repositories[project], else the '*' entry, else
// nothing; an empty table grants all).
// Anything else is left out of the token rather than refused, as the token spec expects.
export function decideAccess(
  registry: RegistryEntry,
  requester: Requester,
  scopes: readonly RequestedScope[],
): AccessDecision {
  const decision: AccessDecision = { access: [], denials: [] };
  const deny = (scope: RequestedScope, reason: DenialReason) =>
    decision.denials.push({ scope: formatScope(scope), reason });
  const reasonForAll = requesterDenial(registry, requester);
  const patterns = repositoryPatterns(registry, requester);
  for (const scope of scopes) {
    if (reasonForAll) {
      deny(scope, reasonForAll);
      continue;
    }
    if (scope.type !== 'repository') {
      deny(scope, 'not_a_repository');
      continue;
    }
    if (!scope.actions.includes('pull') && !scope.actions.includes('*')) {
      deny(scope, 'pull_only');
      continue;
    }
    if (!patterns.some((pattern) => pattern.test(scope.name))) {
      deny(scope, 'repository_not_allowed');
      continue;
    }
    if (scope.actions.some((action) => action !== 'pull')) deny(scope, 'pull_only');
    if (!decision.access.some((entry) => entry.name === scope.name))
      decision.access.push({ type: 'repository', name: scope.name, actions: ['pull'] });
  }
  return decision;
}

function requesterDenial(registry: RegistryEntry, requester: Requester): DenialReason | undefined {
  if (requester === undefined) return registry.issuer?.anonymousPull ? undefined : 'anonymous';
  if (!projectMayUse(registry.projects, requester.project)) return 'project_not_allowed';
  return undefined;
}

// An empty table (no `repositories` setting) means everything; once it has entries, a
// project that is neither listed nor covered by a `"*"` entry gets nothing. Only own
// properties count, so a project named `constructor` or `__proto__` is just a name.
function repositoryPatterns(registry: RegistryEntry, requester: Requester): RegExp[] {
  const table = registry.issuer?.repositories ?? {};
  if (Object.keys(table).length === 0) return [globToRegExp('*')];
  const entry = (name: string): string[] | undefined => (Object.hasOwn(table, name) ? table[name] : undefined);
  const own = requester === undefined ? undefined : entry(requester.project);
  return (own ?? entry('*') ?? []).map(globToRegExp);
}

// `*` matches any run of characters, '/' included: `library/*` covers `library/python`
// and `team/*` covers `team/a/b`. Every other character is literal.
export function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}
