import { describe, expect, it } from 'vitest';
import { decideAccess, globToRegExp } from '../../../src/service/realm/access-decision.ts';
import { parseScopes } from '../../../src/service/token/scope.ts';
import { issuerRegistry } from '../../helpers/realm-fixtures.ts';

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
    const decision = decideAccess(
      registry,
      { project: 'main' },
      parseScopes([
        'repository:library/a:pull,push repository:library/a:pull repository:other:pull registry:catalog:*',
      ]),
    );
    expect(decision.access).toEqual([{ type: 'repository', name: 'library/a', actions: ['pull'] }]);
    expect(decision.denials.map((d) => d.reason)).toEqual(['pull_only', 'repository_not_allowed', 'not_a_repository']);
  });

  it('reads * as a request for every action and grants its pull part', () => {
    expect(decideAccess(registry, { project: 'main' }, parseScopes(['repository:library/a:*'])).access).toEqual([
      { type: 'repository', name: 'library/a', actions: ['pull'] },
    ]);
  });

  it('grants everything of the registry by default', () => {
    expect(
      decideAccess(issuerRegistry(), { project: 'any' }, parseScopes(['repository:x/y/z:pull'])).access,
    ).toHaveLength(1);
  });

  it('gives a project that is neither listed nor covered by "*" nothing once the table has entries', () => {
    const listed = issuerRegistry({ issuer: { repositories: { main: ['library/*'] } } });
    const decision = decideAccess(
      listed,
      { project: 'other' },
      parseScopes(['repository:library/a:pull repository:x:pull']),
    );
    expect(decision.access).toEqual([]);
    expect(decision.denials.map((d) => d.reason)).toEqual(['repository_not_allowed', 'repository_not_allowed']);
  });

  it('still uses the "*" entry for unlisted projects', () => {
    const withDefault = issuerRegistry({ issuer: { repositories: { main: ['library/*'], '*': ['public/*'] } } });
    expect(
      decideAccess(
        withDefault,
        { project: 'other' },
        parseScopes(['repository:public/a:pull repository:library/a:pull']),
      ).access,
    ).toEqual([{ type: 'repository', name: 'public/a', actions: ['pull'] }]);
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    'treats a project named %j as a plain name, not an inherited property',
    (project) => {
      const open = issuerRegistry({ issuer: { repositories: { main: ['library/*'] } } });
      expect(decideAccess(open, { project }, parseScopes(['repository:library/a:pull'])).access).toEqual([]);
      const listed = issuerRegistry({ issuer: { repositories: Object.fromEntries([[project, ['own/*']]]) } });
      expect(decideAccess(listed, { project }, parseScopes(['repository:own/a:pull'])).access).toHaveLength(1);
    },
  );
});
