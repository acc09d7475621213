import { describe, expect, it } from 'vitest';
import { createStaticSource } from '../../../src/service/sources/static-source.ts';
import type { RegistryEntry } from '../../../src/service/core/ports.ts';
import { Secret } from '../../../src/common/secret.ts';
import { isCodedError } from '../../../src/common/errors.ts';

const now = new Date('2026-01-15T12:00:00.000Z');
const identity = { instance: 'i-1', project: 'main', issuedAt: now, expiresAt: new Date(now.getTime() + 3_600_000) };

describe('static credential source', () => {
  it('hands out the configured username and password with the configured cache lifetime', async () => {
    const registry: RegistryEntry = {
      key: 'r.example',
      source: 'static',
      projects: ['*'],
      aliases: [],
      static: { username: 'u', password: new Secret('pw'), ttlSeconds: 90 },
    };
    const issued = await createStaticSource().issue({ identity, requestedKey: 'r.example', registry, now });
    if (issued.kind !== 'basic') throw new Error(`the static source answered a ${issued.kind} credential`);
    expect(issued.username).toBe('u');
    expect(issued.secret.reveal()).toBe('pw');
    expect(issued.expiresAt.toISOString()).toBe('2026-01-15T12:01:30.000Z');
  });

  it('answers not_found for a registry configured without credentials (a mirror pulled anonymously)', async () => {
    const registry: RegistryEntry = { key: 'r.example', source: 'static', projects: ['*'], aliases: [] };
    const error = await createStaticSource()
      .issue({ identity, requestedKey: 'r.example', registry, now })
      .catch((e: unknown) => e);
    expect(isCodedError(error, 'not_found')).toBe(true);
  });
});
