import { describe, expect, it } from 'vitest';
import {
  cacheKeyOf,
  entryKeyOf,
  freshnessOf,
  parseEntry,
  serializeEntry,
  type CacheEntry,
} from '../../../src/host/cache/cache-entry.ts';
import { Secret } from '../../../src/common/secret.ts';

const issuedAt = new Date('2026-11-26T20:00:00.000Z');
const expiresAt = new Date('2026-11-26T20:10:00.000Z');
const entry: CacheEntry = {
  kind: 'credential',
  registry: 'r.example',
  username: 'u',
  secret: new Secret('s'),
  issuedAt,
  expiresAt,
};
const at = (iso: string) => new Date(`2026-11-26T${iso}Z`);

describe('freshnessOf (injected clock)', () => {
  it.each([
    ['20:00:00.000', 'fresh'],
    ['20:04:59.999', 'fresh'],
    ['20:05:00.000', 'stale'], // half its life
    ['20:09:59.999', 'stale'],
    ['20:10:00.000', 'expired'],
    ['21:00:00.000', 'expired'],
    ['19:59:00.000', 'stale'], // clock went backwards: refresh
  ])('at %s the entry is %s', (time, expected) => {
    expect(freshnessOf(entry, at(time))).toBe(expected);
  });
});

describe('serializeEntry / parseEntry', () => {
  it('round-trips a credential and an absent entry', () => {
    const back = parseEntry(serializeEntry(entry));
    expect(back).toMatchObject({ kind: 'credential', registry: 'r.example', username: 'u', issuedAt, expiresAt });
    expect(back?.kind === 'credential' && back.secret.reveal()).toBe('s');
    const absent: CacheEntry = { kind: 'absent', registry: 'r.example', issuedAt, expiresAt };
    expect(parseEntry(serializeEntry(absent))).toEqual(absent);
  });

  it.each([
    ['not json', '{'],
    [
      'no version',
      '{"kind":"credential","registry":"r","username":"u","secret":"s","issuedAt":"2026-01-01T00:00:00Z","expiresAt":"2026-01-01T00:00:00Z"}',
    ],
    [
      'bad date',
      '{"version":1,"kind":"credential","registry":"r","username":"u","secret":"s","issuedAt":"yesterday","expiresAt":"2026-01-01T00:00:00Z"}',
    ],
    [
      'empty secret',
      '{"version":1,"kind":"credential","registry":"r","username":"u","secret":"","issuedAt":"2026-01-01T00:00:00Z","expiresAt":"2026-01-01T00:00:00Z"}',
    ],
    [
      'unknown kind',
      '{"version":1,"kind":"other","registry":"r","issuedAt":"2026-01-01T00:00:00Z","expiresAt":"2026-01-01T00:00:00Z"}',
    ],
    ['null', 'null'],
  ])('rejects %s', (_name, text) => {
    expect(parseEntry(text)).toBeUndefined();
  });
});

describe('repository-scoped entries', () => {
  it('round-trip a registry token and a "none" that names a repository and a reason', () => {
    const bearer: CacheEntry = {
      kind: 'bearer',
      registry: 'r.example',
      repository: 'library/python',
      token: new Secret('tok'),
      issuedAt,
      expiresAt,
    };
    const back = parseEntry(serializeEntry(bearer));
    expect(back).toMatchObject({
      kind: 'bearer',
      registry: 'r.example',
      repository: 'library/python',
      issuedAt,
      expiresAt,
    });
    expect(back?.kind === 'bearer' && back.token.reveal()).toBe('tok');
    const absent: CacheEntry = {
      kind: 'absent',
      registry: 'r.example',
      repository: 'library/python',
      note: 'repository-scoped tokens only',
      issuedAt,
      expiresAt,
    };
    expect(parseEntry(serializeEntry(absent))).toEqual(absent);
  });

  it('are kept under their own key; the registry key is unchanged for basic credentials', () => {
    expect(cacheKeyOf('r.example')).toBe('r.example');
    expect(cacheKeyOf('r.example', 'library/python')).toBe('r.example library/python');
    expect(entryKeyOf(entry)).toBe('r.example');
    expect(
      entryKeyOf({
        kind: 'bearer',
        registry: 'r.example',
        repository: 'a/b',
        token: new Secret('t'),
        issuedAt,
        expiresAt,
      }),
    ).toBe('r.example a/b');
  });

  it('a bearer entry without its repository or token is corrupt', () => {
    expect(
      parseEntry(
        '{"version":1,"kind":"bearer","registry":"r","token":"t","issuedAt":"2026-01-01T00:00:00Z","expiresAt":"2026-01-01T00:00:00Z"}',
      ),
    ).toBeUndefined();
    expect(
      parseEntry(
        '{"version":1,"kind":"bearer","registry":"r","repository":"a","token":"","issuedAt":"2026-01-01T00:00:00Z","expiresAt":"2026-01-01T00:00:00Z"}',
      ),
    ).toBeUndefined();
  });
});
