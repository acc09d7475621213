import { describe, expect, it } from 'vitest';
import { checkRepositoryName, isRepositoryName } from '../../src/registry/repository-name.ts';
import { isCodedError } from '../../src/common/errors.ts';

describe('repository names (distribution grammar)', () => {
  it('accepts the names registries use', () => {
    for (const name of ['python', 'library/python', 'dockerhub-proxy/library/python', 'a/b/c/d', 'my_app', 'my__app', 'my.app', 'my---app', 'x0', '0']) {
      expect(isRepositoryName(name), name).toBe(true);
    }
    expect(isRepositoryName('a'.repeat(255))).toBe(true);
  });

  it('refuses upper case, hosts, tags, digests, empty parts, bad separators and overlong names', () => {
    for (const name of ['', 'Python', 'library/python:3.14', 'python@sha256:abc', '127.0.0.1:5000/python', '/python', 'python/', 'a//b', '-a', 'a-', 'a.', '.a', 'a___b', 'a..b', 'a_-b', '../etc', 'a b', 'a'.repeat(256)]) {
      expect(isRepositoryName(name), JSON.stringify(name)).toBe(false);
    }
    expect(isRepositoryName(7)).toBe(false);
    expect(isRepositoryName(undefined)).toBe(false);
  });

  it('returns a valid name and names the rule for an invalid one', () => {
    expect(checkRepositoryName('library/python')).toBe('library/python');
    const error = (() => {
      try {
        checkRepositoryName(`Library/${'x'.repeat(200)}`);
      } catch (e) {
        return e;
      }
    })();
    expect(isCodedError(error, 'repository_invalid')).toBe(true);
    expect((error as Error).message).toMatch(/^invalid repository name "Library\/x+…": expected lower-case path components/);
    expect((error as Error).message.length).toBeLessThan(300);
  });
});
