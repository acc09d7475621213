import { describe, expect, it } from 'vitest';
import { formatScope, parseScope, parseScopes } from '../../../src/service/token/scope.ts';

describe('parseScopes', () => {
  it('parses the examples of the distribution token specification', () => {
    expect(parseScopes(['repository:samalba/my-app:pull,push'])).toEqual([
      { type: 'repository', name: 'samalba/my-app', actions: ['pull', 'push'] },
    ]);
    expect(parseScope('repository(plugin):samalba/my-plugin:pull')).toEqual({
      type: 'repository',
      resourceClass: 'plugin',
      name: 'samalba/my-plugin',
      actions: ['pull'],
    });
    expect(parseScope('registry:catalog:*')).toEqual({ type: 'registry', name: 'catalog', actions: ['*'] });
  });

  it('keeps host:port components inside the repository name', () => {
    expect(parseScope('repository:localhost:5000/foo/bar:pull')).toEqual({
      type: 'repository',
      name: 'localhost:5000/foo/bar',
      actions: ['pull'],
    });
    expect(parseScope('repository:docker.mycompany.example:443/library/python:push,pull')?.name).toBe(
      'docker.mycompany.example:443/library/python',
    );
  });

  it('reads repeated parameters and several space-separated scopes in one value', () => {
    const scopes = parseScopes(['repository:a/b:pull repository:c:push', 'repository:d:pull']);
    expect(scopes.map((s) => s.name)).toEqual(['a/b', 'c', 'd']);
  });

  it('treats the order of actions as insignificant and drops duplicates and empty entries', () => {
    expect(parseScope('repository:x:push,pull')).toEqual(parseScope('repository:x:pull,push'));
    expect(parseScope('repository:x:pull,,pull,')?.actions).toEqual(['pull']);
  });

  it('ignores junk instead of failing the whole request', () => {
    const junk = [
      '',
      'repository',
      'repository:',
      'repository:name',
      'repository::pull',
      'Repository:x:pull',
      'repository:UPPER:pull',
      'repository:x:',
      'repository:x:PULL',
      'repository:../etc:pull',
      'repository(:x:pull',
      'repository:x y:pull',
      `${'a'.repeat(600)}:x:pull`,
      'repository:-bad:pull',
    ];
    for (const text of junk) expect(parseScope(text), text).toBeUndefined();
    expect(parseScopes([`${junk.join(' ')} repository:ok:pull`]).map((s) => s.name)).toEqual(['ok']);
  });

  it('caps the number of scopes read from one request', () => {
    expect(parseScopes([Array.from({ length: 200 }, (_, i) => `repository:r${i}:pull`).join(' ')])).toHaveLength(64);
  });

  it('formats a scope for the audit log', () => {
    expect(formatScope(parseScope('repository(plugin):a/b:push,pull')!)).toBe('repository(plugin):a/b:pull,push');
  });
});
