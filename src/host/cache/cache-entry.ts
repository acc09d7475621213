import { MAX_SHORT_LIFETIME_SECONDS } from '../../common/duration.ts';
import { Secret } from '../../common/secret.ts';

// One registry's cached answer from the server. `issuedAt` is when the helper received it
// (contract: the lifetime runs from receipt to expires_at). An `absent` entry remembers a
// "no credential" answer briefly, so 20 parallel pulls of a public image ask only once, with
// the server's reason when it gave one that is worth repeating. A `bearer` entry is a
// registry token for one repository (broker source); entries that name a repository are kept
// apart from the registry's own (see cacheKeyOf).
export type CacheEntry =
  | { kind: 'credential'; registry: string; username: string; secret: Secret; issuedAt: Date; expiresAt: Date }
  | { kind: 'bearer'; registry: string; repository: string; token: Secret; issuedAt: Date; expiresAt: Date }
  | { kind: 'absent'; registry: string; repository?: string; note?: string; issuedAt: Date; expiresAt: Date };

// The cache key of a registry, or of one repository in it. A space is in neither grammar,
// so the two kinds of key never meet.
export function cacheKeyOf(registry: string, repository?: string): string {
  return repository === undefined ? registry : `${registry} ${repository}`;
}

export function entryKeyOf(entry: CacheEntry): string {
  return cacheKeyOf(entry.registry, entry.kind === 'credential' ? undefined : entry.repository);
}

// fresh: serve it. stale: past its refresh point (half its life), refresh but may still be
// served if the server fails. expired: never served.
export type Freshness = 'fresh' | 'stale' | 'expired';

export const CACHE_FORMAT_VERSION = 1;

// The longest life the service gives any credential (its short-lifetime cap). An expires_at
// beyond it (a broken or hostile server, a clock years off) is cut to it.
export const MAX_CACHE_LIFETIME_MS = MAX_SHORT_LIFETIME_SECONDS * 1000;

export function cappedExpiry(issuedAt: Date, expiresAt: Date): Date {
  return new Date(Math.min(expiresAt.getTime(), issuedAt.getTime() + MAX_CACHE_LIFETIME_MS));
}

export function freshnessOf(entry: CacheEntry, now: Date): Freshness {
  const at = now.getTime();
  const issued = entry.issuedAt.getTime();
  // Entries are written capped; a file written otherwise is held to the cap all the same.
  const expires = cappedExpiry(entry.issuedAt, entry.expiresAt).getTime();
  if (at >= expires) return 'expired';
  // A clock that went backwards makes the entry's age unknowable: refresh it.
  if (at < issued) return 'stale';
  return at < issued + (expires - issued) / 2 ? 'fresh' : 'stale';
}

export function serializeEntry(entry: CacheEntry): string {
  const common = {
    version: CACHE_FORMAT_VERSION,
    kind: entry.kind,
    registry: entry.registry,
    issuedAt: entry.issuedAt.toISOString(),
    expiresAt: entry.expiresAt.toISOString(),
  };
  if (entry.kind === 'absent')
    return `${JSON.stringify({ ...common, ...(entry.repository !== undefined ? { repository: entry.repository } : {}), ...(entry.note !== undefined ? { note: entry.note } : {}) })}\n`;
  if (entry.kind === 'bearer')
    return `${JSON.stringify({ ...common, repository: entry.repository, token: entry.token.reveal() })}\n`;
  return `${JSON.stringify({ ...common, username: entry.username, secret: entry.secret.reveal() })}\n`;
}

// Anything that is not exactly an entry of this format is corrupt: the caller ignores it.
export function parseEntry(text: string): CacheEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (record.version !== CACHE_FORMAT_VERSION || typeof record.registry !== 'string') return undefined;
  const issuedAt = dateOf(record.issuedAt);
  const expiresAt = dateOf(record.expiresAt);
  if (!issuedAt || !expiresAt) return undefined;
  const repository = typeof record.repository === 'string' ? record.repository : undefined;
  if (record.kind === 'absent') {
    const note = typeof record.note === 'string' ? record.note : undefined;
    return {
      kind: 'absent',
      registry: record.registry,
      ...(repository !== undefined ? { repository } : {}),
      ...(note !== undefined ? { note } : {}),
      issuedAt,
      expiresAt,
    };
  }
  if (record.kind === 'bearer') {
    if (repository === undefined || typeof record.token !== 'string' || record.token === '') return undefined;
    return {
      kind: 'bearer',
      registry: record.registry,
      repository,
      token: new Secret(record.token),
      issuedAt,
      expiresAt,
    };
  }
  if (
    record.kind !== 'credential' ||
    typeof record.username !== 'string' ||
    typeof record.secret !== 'string' ||
    record.secret === ''
  )
    return undefined;
  return {
    kind: 'credential',
    registry: record.registry,
    username: record.username,
    secret: new Secret(record.secret),
    issuedAt,
    expiresAt,
  };
}

function dateOf(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
