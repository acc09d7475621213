import { describe, expect, it } from 'vitest';
import { readTokenAnswerFields, realmUrlProblem } from '../../src/registry/token-realm.ts';

describe('realmUrlProblem', () => {
  it('lets a credential go to https anywhere and plain http on loopback only', () => {
    expect(realmUrlProblem(new URL('https://auth.example/token?x=1'))).toBeUndefined();
    expect(realmUrlProblem(new URL('http://127.0.0.1:5001/token'))).toBeUndefined();
    expect(realmUrlProblem(new URL('http://auth.example/token'))).toBe('plain_http');
    expect(realmUrlProblem(new URL('ftp://auth.example/token'))).toBe('not_http');
    expect(realmUrlProblem(new URL('https://u:p@auth.example/token'))).toBe('credentials');
  });
});

describe('readTokenAnswerFields', () => {
  it('takes token, else access_token, and hands expires_in and issued_at over as given', () => {
    expect(
      readTokenAnswerFields('{"token":"t","access_token":"a","expires_in":300,"issued_at":"2026-11-29T00:00:00Z"}'),
    ).toEqual({ token: 't', expiresIn: 300, issuedAt: '2026-11-29T00:00:00Z' });
    expect(readTokenAnswerFields('{"token":"","access_token":"a"}')).toEqual({
      token: 'a',
      expiresIn: undefined,
      issuedAt: undefined,
    });
  });
  it.each(['', 'null', '[]', '"t"', '{"token":""}', '{"access_token":""}', '{"token":5}'])(
    '%s is no token answer',
    (body) => {
      expect(readTokenAnswerFields(body)).toBeUndefined();
    },
  );
});
