import { describe, expect, it } from 'vitest';
import {
  isDigest,
  isReference,
  isRepositoryName,
  isTag,
  repositoryProblem,
} from '../../src/registry/distribution-grammar.ts';
import { registryKeyOfImage, repositoryOfImage } from '../../src/registry/image-reference.ts';
import { DOCKER_HUB_KEY } from '../../src/registry/registry-key.ts';

const HEX = 'a'.repeat(64);

describe('distribution grammar', () => {
  it.each([
    'python',
    'library/python',
    'a/b/c',
    'my-app',
    'my__app',
    'my.app',
    'my_app',
    'a--b',
    'dockerhub-proxy/library/python',
    '0',
  ])('%s is a repository', (name) => {
    expect(isRepositoryName(name)).toBe(true);
  });

  it.each([
    '',
    'Python',
    'library//python',
    '/python',
    'python/',
    '../x',
    'a/../b',
    'a/./b',
    '-a',
    'a-',
    'a___b',
    'a..b',
    'a%2Fb',
    'a b',
    'a:b',
    `${'a'.repeat(256)}`,
  ])('%j is not a repository', (name) => {
    expect(isRepositoryName(name)).toBe(false);
    expect(repositoryProblem(name)).toBeTypeOf('string');
  });

  it.each(['3.14', 'latest', '_x', 'A-b.c_d', 'a'.repeat(128)])('%s is a tag', (tag) => {
    expect(isTag(tag)).toBe(true);
  });

  it.each(['', '-x', '.x', 'a'.repeat(129), 'a/b', 'a:b', 'a b'])('%j is not a tag', (tag) => {
    expect(isTag(tag)).toBe(false);
  });

  it('digests: sha256 needs 64 lower-case hex, sha512 128; other algorithms follow the generic rule', () => {
    expect(isDigest(`sha256:${HEX}`)).toBe(true);
    expect(isDigest(`sha512:${'b'.repeat(128)}`)).toBe(true);
    expect(isDigest(`sha256:${'A'.repeat(64)}`)).toBe(false);
    expect(isDigest('sha256:abc')).toBe(false);
    expect(isDigest(`sha512:${HEX}`)).toBe(false);
    expect(isDigest('multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8')).toBe(true);
    expect(isDigest('sha256')).toBe(false);
    expect(isDigest(`SHA256:${HEX}`)).toBe(false);
  });

  it('a reference is a tag or a digest', () => {
    expect(isReference('3.14')).toBe(true);
    expect(isReference(`sha256:${HEX}`)).toBe(true);
    expect(isReference('sha256:abc')).toBe(false); // a colon is no tag character
  });
});

describe('repositoryOfImage', () => {
  it.each([
    ['python:3.14', DOCKER_HUB_KEY, 'library/python'],
    ['python', DOCKER_HUB_KEY, 'library/python'],
    ['library/python:3.14', DOCKER_HUB_KEY, 'library/python'],
    ['docker.io/python:3.14', DOCKER_HUB_KEY, 'library/python'],
    ['docker.io/user/app', DOCKER_HUB_KEY, 'user/app'],
    [`user/app@sha256:${HEX}`, DOCKER_HUB_KEY, 'user/app'],
    ['docker.mycompany.example/python:3.14', 'docker.mycompany.example', 'python'],
    ['127.0.0.1:5000/team/app:1', '127.0.0.1:5000', 'team/app'],
    ['localhost/app', 'localhost', 'app'],
  ])('%s → %s, %s', (image, key, repository) => {
    expect(registryKeyOfImage(image)).toBe(key);
    expect(repositoryOfImage(image)).toBe(repository);
  });

  it('refuses a name outside the grammar', () => {
    expect(() => repositoryOfImage('Python:3.14')).toThrow(
      /invalid image reference "Python:3.14": a repository name is lower-case/,
    );
  });
});
