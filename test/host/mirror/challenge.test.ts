import { describe, expect, it } from 'vitest';
import { parseChallenge } from '../../../src/host/mirror/upstream/challenge.ts';

describe('parseChallenge', () => {
  it("reads Docker Hub's Bearer challenge", () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/python:pull"',
      ),
    ).toEqual({
      scheme: 'bearer',
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
      scope: 'repository:library/python:pull',
    });
  });

  it("reads distribution's htpasswd Basic challenge", () => {
    expect(parseChallenge('Basic realm="mirror-test"')).toEqual({ scheme: 'basic' });
  });

  it('scheme and parameter names are case-insensitive; spaces, unquoted values and escapes are allowed', () => {
    expect(parseChallenge('bearer  Realm = "https://r.example/t" , SERVICE=reg.example')).toEqual({
      scheme: 'bearer',
      realm: 'https://r.example/t',
      service: 'reg.example',
    });
    expect(parseChallenge('Bearer realm="https://r.example/t?a=\\"b\\"",scope="repository:a/b:pull,push"')).toEqual({
      scheme: 'bearer',
      realm: 'https://r.example/t?a="b"',
      scope: 'repository:a/b:pull,push',
    });
  });

  it('takes the first challenge it can answer, also from several headers', () => {
    expect(parseChallenge('Negotiate abc==, Bearer realm="https://r/t", Basic realm="x"')).toEqual({
      scheme: 'bearer',
      realm: 'https://r/t',
    });
    expect(parseChallenge(['Negotiate', 'Basic realm="x"'])).toEqual({ scheme: 'basic' });
  });

  it('a Bearer challenge without a realm, or none at all, is nothing to answer', () => {
    expect(parseChallenge('Bearer service="x"')).toBeUndefined();
    expect(parseChallenge(undefined)).toBeUndefined();
    expect(parseChallenge('')).toBeUndefined();
    expect(parseChallenge('Negotiate')).toBeUndefined();
  });
});
