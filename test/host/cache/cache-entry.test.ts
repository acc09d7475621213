import { describe, expect, it } from 'vitest';
import { freshnessOf, parseEntry, serializeEntry, type CacheEntry } from '../../../src/host/cache/cache-entry.ts';
import { Secret } from '../../../src/common/secret.ts';

const issuedAt = new Date('2026-11-26T20:00:00.000Z');
const expiresAt = new Date('2026-11-26T20:10:00.000Z');
const entry: CacheEntry = { kind: 'credential', registry: 'r.example', username: 'u', secret: new Secret('s'), issuedAt, expiresAt };
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
    ['no version', '{"kind":"credential","registry":"r","username":"u","secret":"s","issuedAt":"2026-01-01T00:00:00Z","expiresAt":"2026-01-01T00:00:00Z"}'],
    ['bad date', '{"version":1,"kind":"credential","registry":"r","username":"u","secret":"s","issuedAt":"yesterday","expiresAt":"2026-01-01T00:00:00Z"}'],
    ['empty secret', '{"version":1,"kind":"credential","registry":"r","username":"u","secret":"","issuedAt":"2026-01-01T00:00:00Z","expiresAt":"2026-01-01T00:00:00Z"}'],
    ['unknown kind', '{"version":1,"kind":"other","registry":"r","issuedAt":"2026-01-01T00:00:00Z","expiresAt":"2026-01-01T00:00:00Z"}'],
    ['null', 'null'],
  ])('rejects %s', (_name, text) => {
    expect(parseEntry(text)).toBeUndefined();
  });
});
