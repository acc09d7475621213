import { describe, expect, it } from 'vitest';
import { decideAccess, globToRegExp } from '../../src/issuer/access-decision.ts';
import { parseScopes } from '../../src/token/scope.ts';
import { issuerRegistry } from './fixtures.ts';

describe('globToRegExp', () => {
  it('lets * match any run of characters, slashes included, and keeps the rest literal', () => {
    expect(globToRegExp('library/*').test('library/python')).toBe(true);
    expect(globToRegExp('team/*').test('team/a/b')).toBe(true);
    expect(globToRegExp('library/*').test('librar/python')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    expect(globToRegExp('exact').test('exact/more')).toBe(false);
    expect(globToRegExp('*').test('anything/at/all')).toBe(true);
  });
});

describe('decideAccess', () => {
  const registry = issuerRegistry({ projects: ['main'], issuer: { repositories: { main: ['library/*'] } } });

  it('grants pull once per repository and records what was dropped', () => {
    const decision = decideAccess(registry, { project: 'main' }, parseScopes(['repository:library/a:pull,push repository:library/a:pull repository:other:pull registry:catalog:*']));
    expect(decision.access).toEqual([{ type: 'repository', name: 'library/a', actions: ['pull'] }]);
    expect(decision.denials.map((d) => d.reason)).toEqual(['pull_only', 'repository_not_allowed', 'not_a_repository']);
  });

  it('reads * as a request for every action and grants its pull part', () => {
    expect(decideAccess(registry, { project: 'main' }, parseScopes(['repository:library/a:*'])).access).toEqual([{ type: 'repository', name: 'library/a', actions: ['pull'] }]);
  });

  it('grants everything of the registry by default', () => {
    expect(decideAccess(issuerRegistry(), { project: 'any' }, parseScopes(['repository:x/y/z:pull'])).access).toHaveLength(1);
  });
});
