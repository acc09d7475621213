import { CodedError, isCodedError, oneLine } from '../../common/errors.ts';
import type { Secret } from '../../common/secret.ts';
import type { CacheEntry } from '../cache/cache-entry.ts';
import { cappedExpiry, freshnessOf, MAX_CACHE_LIFETIME_MS } from '../cache/cache-entry.ts';
import { formatDuration } from '../../common/duration.ts';
import type { CredentialCache, FetchFailure } from '../cache/credential-cache.ts';
import type { ServiceClient } from '../client/service-client.ts';
import type { Diagnostics } from './diagnostics.ts';
import type { HelperSettings } from './settings.ts';
import { openHelperCache } from './open-helper-cache.ts';
import { acquireLock } from '../cache/cache-lock.ts';

// How long a "no credential for this registry" answer is remembered.
export const ABSENT_TTL_MS = 30_000;

// Failures that mean "the server could not answer", where the failure policy applies and a
// stale cached credential may stand in. Auth failures (revoked, expired, forbidden…) are
// answers: they always reach the user.
const UNREACHABLE_CODES = new Set(['unreachable', 'timeout', 'tls', 'bad_response', 'rate_limited', 'unavailable', 'internal']);

export interface ResolveDeps {
  now?: () => Date;
  cache?: CredentialCache;
  client?: () => Promise<ServiceClient>;
}

// cache → server → cache, with the failure policy. undefined means "no credential" (the
// protocol prints the not-found line, and the client pulls anonymously).
export async function resolveCredential(registryKey: string, settings: HelperSettings, diagnostics: Diagnostics, deps: ResolveDeps = {}): Promise<{ username: string; secret: Secret } | undefined> {
  const now = deps.now ?? (() => new Date());
  const cache = deps.cache ?? openHelperCache(settings, diagnostics);
  const cached = cache.read(registryKey);
  if (cached && freshnessOf(cached, now()) === 'fresh') {
    diagnostics.debug(`cache hit for ${registryKey}`);
    return answerOf(cached);
  }
  const why = cached && freshnessOf(cached, now()) === 'stale' ? ' (cached entry past its refresh point)' : '';
  diagnostics.debug(`cache miss for ${registryKey}: requesting ${settings.server}${why}`);

  const startedAt = Date.now();
  const release = await waitForOtherFetch(registryKey, settings, diagnostics, cache, () => isFresh(cache.read(registryKey), now()) || recentFailure(cache, registryKey, settings.server, startedAt) !== undefined);
  try {
    // Whoever held the lock has just written the entry (or its failure): read it before asking.
    const after = cache.read(registryKey);
    if (after && isFresh(after, now())) {
      diagnostics.debug(`cache hit for ${registryKey} (fetched by another process)`);
      return answerOf(after);
    }
    const failure = recentFailure(cache, registryKey, settings.server, startedAt);
    if (failure) {
      diagnostics.debug(`another docker-credential-dstack has just failed to fetch ${registryKey} (${failure.code}); not asking again`);
      const error = new CodedError(failure.code, failure.message);
      // A refusal (revoked token, forbidden…) is the server's answer for every waiter alike.
      if (!UNREACHABLE_CODES.has(failure.code)) throw error;
      return fallBack(registryKey, error, settings, diagnostics, after ?? cached, now);
    }
    return await fetchAndStore(registryKey, settings, diagnostics, cache, now, deps, after ?? cached);
  } finally {
    release();
  }
}

const LOCK_WAIT_SLACK_MS = 2000;
const LOCK_STALE_SLACK_MS = 3000;

// Single flight: the lock for this key, or the moment the result (a fresh entry or a shared
// failure) is there, or the time budget. Returns the release (a no-op without the lock).
async function waitForOtherFetch(registryKey: string, settings: HelperSettings, diagnostics: Diagnostics, cache: CredentialCache, satisfied: () => boolean): Promise<() => void> {
  const lockPath = cache.lockPath(registryKey);
  if (lockPath === undefined) return () => {};
  // A holder gives up after the time budget and then shares its failure: wait a little
  // longer than that, so a slow server is not asked again by every waiter at once. The slack
  // covers the holder's own start-up, which on a small host with 20 helpers starting at once
  // (compose) takes more than a second before its budget even begins.
  const lock = await acquireLock(lockPath, {
    waitMs: settings.timeoutMs + LOCK_WAIT_SLACK_MS,
    staleMs: settings.timeoutMs + LOCK_STALE_SLACK_MS,
    satisfied,
    onStale: (reason) => diagnostics.warn(`broke a stale cache lock: ${reason}`),
  });
  if (lock.status === 'unavailable') diagnostics.warn(`${lock.reason}: asking the server without waiting for other docker-credential-dstack processes`);
  if (lock.status === 'timed_out') diagnostics.warn(`waited ${settings.timeoutMs + LOCK_WAIT_SLACK_MS} ms for another docker-credential-dstack fetching ${registryKey}; asking the server directly`);
  return lock.status === 'acquired' ? lock.release : () => {};
}

// A failure recorded by another process after this one started waiting.
// Only a failure of the same server counts: processes with another server share the directory.
function recentFailure(cache: CredentialCache, registryKey: string, server: string, since: number): FetchFailure | undefined {
  const failure = cache.readFailure(registryKey);
  return failure && failure.server === server && failure.at >= since ? failure : undefined;
}

async function fetchAndStore(registryKey: string, settings: HelperSettings, diagnostics: Diagnostics, cache: CredentialCache, now: () => Date, deps: ResolveDeps, previous: CacheEntry | undefined): Promise<{ username: string; secret: Secret } | undefined> {
  const client = await (deps.client ?? (() => defaultClient(settings, diagnostics)))();
  try {
    const credential = await client.getCredential(registryKey);
    share(cache, registryKey, undefined);
    // Without a repository the service never answers bearer; a broken one that does gets nothing from us.
    if (credential.kind !== 'basic') throw new CodedError('bad_response', `dstack server ${settings.server} answered a repository token for ${registryKey} without being asked for a repository`);
    const issuedAt = now();
    if (credential.expiresAt.getTime() <= issuedAt.getTime()) {
      diagnostics.warn(`the credential for ${registryKey} from ${settings.server} is already expired by this host's clock (expires_at ${credential.expiresAt.toISOString()}): check the clocks; not caching it`);
      return { username: credential.username, secret: credential.secret };
    }
    const expiresAt = cappedExpiry(issuedAt, credential.expiresAt);
    await store(cache, { kind: 'credential', registry: registryKey, username: credential.username, secret: credential.secret, issuedAt, expiresAt }, diagnostics);
    const capped = expiresAt < credential.expiresAt ? ` (the server said ${credential.expiresAt.toISOString()}; capped at ${formatDuration(MAX_CACHE_LIFETIME_MS / 1000)}, the longest the service grants)` : '';
    diagnostics.debug(`cached credential for ${registryKey} until ${expiresAt.toISOString()}${capped}`);
    return { username: credential.username, secret: credential.secret };
  } catch (error) {
    if (!isCodedError(error)) throw error;
    if (error.code === 'not_found') {
      diagnostics.debug(`${settings.server} has no credential for ${registryKey}`);
      const at = now();
      await store(cache, { kind: 'absent', registry: registryKey, issuedAt: at, expiresAt: new Date(at.getTime() + ABSENT_TTL_MS) }, diagnostics);
      return undefined;
    }
    if (!UNREACHABLE_CODES.has(error.code)) {
      // The server refused this host: a cached credential must not outlive that answer.
      try {
        cache.erase(registryKey);
      } catch (eraseError) {
        diagnostics.warn(`cannot remove the cache entry for ${registryKey} (${oneLine(eraseError)})`);
      }
      share(cache, registryKey, { at: Date.now(), server: settings.server, code: error.code, message: error.message });
      throw error;
    }
    share(cache, registryKey, { at: Date.now(), server: settings.server, code: error.code, message: error.message });
    return fallBack(registryKey, error, settings, diagnostics, previous, now);
  }
}

// Best-effort: the waiters then ask themselves.
function share(cache: CredentialCache, registryKey: string, failure: FetchFailure | undefined): void {
  try {
    cache.recordFailure(registryKey, failure);
  } catch {
    // nothing to do
  }
}

function fallBack(registryKey: string, error: CodedError, settings: HelperSettings, diagnostics: Diagnostics, previous: CacheEntry | undefined, now: () => Date): { username: string; secret: Secret } | undefined {
  if (previous && freshnessOf(previous, now()) !== 'expired') {
    if (previous.kind === 'absent') return undefined;
    diagnostics.warn(`refreshing the credential for ${registryKey} failed (${oneLine(error)}); serving the cached one, valid until ${previous.expiresAt.toISOString()}`);
    return answerOf(previous);
  }
  if (settings.onError === 'anonymous') {
    diagnostics.warn(`${oneLine(error)}; pulling ${registryKey} anonymously (DOCKER_CREDENTIAL_DSTACK_ON_ERROR=anonymous)`);
    return undefined;
  }
  throw error;
}

async function store(cache: CredentialCache, entry: CacheEntry, diagnostics: Diagnostics): Promise<void> {
  try {
    await cache.write(entry);
  } catch (error) {
    diagnostics.warn(`cannot write the cache entry for ${entry.registry} (${oneLine(error)}); the next pull asks the server again`);
  }
}

async function defaultClient(settings: HelperSettings, diagnostics: Diagnostics): Promise<ServiceClient> {
  const { createServiceClient } = await import('../client/service-client.ts');
  return createServiceClient(settings, { warn: (msg) => diagnostics.warn(msg), debug: (msg) => diagnostics.debug(msg) });
}

function isFresh(entry: CacheEntry | undefined, at: Date): boolean {
  return entry !== undefined && freshnessOf(entry, at) === 'fresh';
}

function answerOf(entry: CacheEntry): { username: string; secret: Secret } | undefined {
  return entry.kind === 'credential' ? { username: entry.username, secret: entry.secret } : undefined;
}
