import { describe, expect, it } from 'vitest';
import { UnsecuredJWT } from 'jose';
import { grantsPull, readTokenAnswer, tokenExpiry, tokenLifetime } from '../../src/registry/token-answer.ts';

const asked = new Date('2026-01-15T12:00:00.000Z');
const seconds = (date: Date) => (date.getTime() - asked.getTime()) / 1000;

// A JWT-shaped token (the signature does not matter: the service never verifies, only reads).
function jwt(claims: Record<string, unknown>): string {
  return new UnsecuredJWT(claims).encode();
}

describe('a realm token answer', () => {
  it('takes token or access_token, expires_in, and 60 s when the realm names no lifetime', () => {
    expect(readTokenAnswer(JSON.stringify({ token: 'opaque-1', expires_in: 300 }), 'library/python', asked)).toEqual({
      token: 'opaque-1',
      lifetimeSeconds: 300,
      expiresAt: new Date(asked.getTime() + 300_000),
      grantsPull: true,
    });
    const oauth = readTokenAnswer(JSON.stringify({ access_token: 'opaque-2' }), 'library/python', asked)!;
    expect(oauth.token).toBe('opaque-2');
    expect(seconds(oauth.expiresAt)).toBe(60);
  });

  it('is no answer without a token or when the body is not a JSON object', () => {
    for (const body of ['', 'null', '[]', '{"token": ""}', '{"expires_in": 300}', 'not json'])
      expect(readTokenAnswer(body, 'a', asked), body).toBeUndefined();
  });

  it('shortens the lifetime to the JWT’s own exp - iat when that is shorter', () => {
    expect(tokenLifetime(300, { iat: 1000, exp: 1120 })).toBe(120);
    expect(tokenLifetime(60, { iat: 1000, exp: 1300 })).toBe(60);
    expect(tokenLifetime(undefined, undefined)).toBe(60);
    expect(tokenLifetime(-5, undefined)).toBe(60);
  });

  it('counts a reused token’s age from issued_at, but not a skewed clock', () => {
    expect(seconds(tokenExpiry(300, new Date(asked.getTime() - 100_000), asked))).toBe(200);
    // Issued "after" we asked, or longer ago than it lives: the realm's clock differs from ours.
    expect(seconds(tokenExpiry(300, new Date(asked.getTime() + 30_000), asked))).toBe(300);
    expect(seconds(tokenExpiry(300, new Date(asked.getTime() - 900_000), asked))).toBe(300);
    expect(seconds(tokenExpiry(300, new Date('garbage'), asked))).toBe(300);
  });

  it('reads pull access from a JWT’s access claim, and trusts opaque tokens and JWTs without one', () => {
    const granted = jwt({ access: [{ type: 'repository', name: 'library/python', actions: ['pull'] }] });
    const empty = jwt({ access: [] });
    const other = jwt({ access: [{ type: 'repository', name: 'library/node', actions: ['pull'] }] });
    expect(readTokenAnswer(JSON.stringify({ token: granted }), 'library/python', asked)!.grantsPull).toBe(true);
    expect(readTokenAnswer(JSON.stringify({ token: empty }), 'library/python', asked)!.grantsPull).toBe(false);
    expect(readTokenAnswer(JSON.stringify({ token: other }), 'library/python', asked)!.grantsPull).toBe(false);
    expect(readTokenAnswer(JSON.stringify({ token: jwt({ sub: 'x' }) }), 'library/python', asked)!.grantsPull).toBe(
      true,
    );
    expect(readTokenAnswer(JSON.stringify({ token: 'not.a-jwt' }), 'library/python', asked)!.grantsPull).toBe(true);
    expect(grantsPull([{ type: 'repository', name: 'a', actions: ['*'] }], 'a')).toBe(true);
    expect(grantsPull([{ type: 'repository', name: 'a', actions: ['push'] }], 'a')).toBe(false);
    expect(grantsPull('everything', 'a')).toBe(false);
  });
});
