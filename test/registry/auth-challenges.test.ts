import { describe, expect, it } from 'vitest';
import { parseChallenges } from '../../src/registry/auth-challenges.ts';

describe('WWW-Authenticate challenges', () => {
  it('reads the Bearer challenge registries send (Docker Hub, distribution)', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io' } },
    ]);
    expect(parseChallenges('bearer Realm=https://a.example/t, error="insufficient_scope"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://a.example/t', error: 'insufficient_scope' } },
    ]);
  });

  it('separates several challenges, also as Node joins repeated headers', () => {
    expect(
      parseChallenges('Basic realm="x", Bearer realm="https://a/t",service="s",scope="repository:a/b:pull,push"'),
    ).toEqual([
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: { realm: 'https://a/t', service: 's', scope: 'repository:a/b:pull,push' } },
    ]);
  });

  it('unquotes escapes, keeps a bare scheme, skips junk and survives an empty header', () => {
    expect(parseChallenges('Bearer realm="a\\"b"')).toEqual([{ scheme: 'bearer', params: { realm: 'a"b' } }]);
    expect(parseChallenges('Negotiate')).toEqual([{ scheme: 'negotiate', params: {} }]);
    expect(parseChallenges('"junk" Basic realm="r"').at(-1)).toEqual({ scheme: 'basic', params: { realm: 'r' } });
    expect(parseChallenges('')).toEqual([]);
    expect(parseChallenges(',,, ')).toEqual([]);
  });
});
