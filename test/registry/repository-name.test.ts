import { describe, expect, it } from 'vitest';
import { isRepositoryName, repositoryProblem } from '../../src/registry/distribution-grammar.ts';

// The repository rule both halves check: the service before it asks a realm for a scope, the
// mirror endpoint before it forwards a pull.
describe('repository names (distribution grammar)', () => {
  it('accepts the names registries use', () => {
    for (const name of [
      'python',
      'library/python',
      'dockerhub-proxy/library/python',
      'a/b/c/d',
      'my_app',
      'my__app',
      'my.app',
      'my---app',
      'x0',
      '0',
    ]) {
      expect(isRepositoryName(name), name).toBe(true);
    }
    expect(isRepositoryName('a'.repeat(255))).toBe(true);
  });

  it('refuses upper case, hosts, tags, digests, empty parts, bad separators and overlong names', () => {
    for (const name of [
      '',
      'Python',
      'library/python:3.14',
      'python@sha256:abc',
      '127.0.0.1:5000/python',
      '/python',
      'python/',
      'a//b',
      '-a',
      'a-',
      'a.',
      '.a',
      'a___b',
      'a..b',
      'a_-b',
      '../etc',
      'a b',
      'a'.repeat(256),
    ]) {
      expect(isRepositoryName(name), JSON.stringify(name)).toBe(false);
    }
  });

  it('says why a name is refused', () => {
    expect(repositoryProblem('')).toMatch(/empty/);
    expect(repositoryProblem('a'.repeat(256))).toMatch(/longer than 255/);
    expect(repositoryProblem('Library/python')).toMatch(/lower-case path components/);
  });
});
