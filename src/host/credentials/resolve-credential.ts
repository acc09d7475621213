import { CodedError, isCodedError, oneLine } from '../../common/errors.ts';
import type { CacheEntry } from '../cache/cache-entry.ts';
import { cacheKeyOf, cappedExpiry, freshnessOf, MAX_CACHE_LIFETIME_MS } from '../cache/cache-entry.ts';
import { formatDuration } from '../../common/duration.ts';
import type { CredentialCache, FetchFailure } from '../cache/credential-cache.ts';
import type { ServiceClient, ServiceCredential } from '../client/service-client.ts';
import { NoCredentialError } from '../client/service-errors.ts';
import type { Diagnostics } from './diagnostics.ts';
import type { HostCredential } from './host-credential.ts';
import type { HelperSettings } from '../settings/settings.ts';
import { openHelperCache } from './open-helper-cache.ts';
import { acquireLock } from '../cache/cache-lock.ts';
import { clockSkewNote, expiryOnHost } from './credential-lifetime.ts';
import { isServiceUnreachable } from '../../contract/error-codes.ts';

// How long a "no credential for this registry" answer is remembered.
export const ABSENT_TTL_MS = 30_000;

// Failures that mean "the server could not answer" (isServiceUnreachable), where the failure
// policy applies and a stale cached credential may stand in. Auth failures (revoked, expired,
// forbidden…) are answers: they always reach the user.

// What is asked for: a registry (`get`), or one repository in it (the mirror endpoint,
// auth-header), which a brokered registry answers with a registry token for that repository.
export interface CredentialRequest {
  registry: string;
  repository?: string;
}

export interface ResolveDeps {
  now?: () => Date;
  cache?: CredentialCache;
  client?: () => Promise<ServiceClient>;
  // Registries known (in this process) to answer with repository tokens: their requests
  // single-flight per repository instead of per registry.
  brokered?: Set<string>;
}

// cache → server → cache, with the failure policy. undefined means "no credential" (the
// protocol prints the not-found line, and the client pulls anonymously).
// A basic answer is the registry's whichever repository was asked for, so it is cached under
// the registry's key and shared with `get`; a bearer answer under the repository's key.
export async function resolveCredential(
  request: string | CredentialRequest,
  settings: HelperSettings,
  diagnostics: Diagnostics,
  deps: ResolveDeps = {},
): Promise<HostCredential | undefined> {
  const { registry, repository } = typeof request === 'string' ? { registry: request, repository: undefined } : request;
  const what = repository === undefined ? registry : `${registry} (${repository})`;
  const now = deps.now ?? (() => new Date());
  const cache = deps.cache ?? openHelperCache(settings, diagnostics);
  const view = cacheView(cache, registry, repository);
  const cached = view.usable(now());
  if (cached) {
    diagnostics.debug(`cache hit for ${what}`);
    return answerOf(cached, diagnostics);
  }
  const previous = view.previous();
  const why = previous && freshnessOf(previous, now()) === 'stale' ? ' (cached entry past its refresh point)' : '';
  diagnostics.debug(`cache miss for ${what}: requesting ${settings.server}${why}`);

  const lockKey =
    repository !== undefined && deps.brokered?.has(registry) ? cacheKeyOf(registry, repository) : registry;
  const seenBefore = cache.readFailure(lockKey);
  const release = await waitForOtherFetch(
    lockKey,
    what,
    settings,
    diagnostics,
    cache,
    () => view.usable(now()) !== undefined || recentFailure(cache, lockKey, settings.server, seenBefore) !== undefined,
  );
  try {
    // Whoever held the lock has just written the entry (or its failure): read it before asking.
    const after = view.usable(now());
    if (after) {
      diagnostics.debug(`cache hit for ${what} (fetched by another process)`);
      return answerOf(after, diagnostics);
    }
    const failure = recentFailure(cache, lockKey, settings.server, seenBefore);
    if (failure) {
      diagnostics.debug(
        `another docker-credential-dstack has just failed to fetch ${what} (${failure.code}); not asking again`,
      );
      const error = new CodedError(failure.code, failure.message);
      // A refusal (revoked token, forbidden…) is the server's answer for every waiter alike.
      if (!isServiceUnreachable(error)) throw error;
      return fallBack(what, error, settings, diagnostics, view.previous() ?? previous, now);
    }
    return await fetchAndStore(
      { registry, repository, what, lockKey },
      settings,
      diagnostics,
      cache,
      now,
      deps,
      view.previous() ?? previous,
    );
  } finally {
    release();
  }
}

// The entries a request may be answered from: for a repository, its own entry (a registry
// token, or "none"), else the registry's basic credential. The registry's "none" does not
// answer a repository request: a brokered registry says "none" to requests without one.
function cacheView(
  cache: CredentialCache,
  registry: string,
  repository: string | undefined,
): { usable(at: Date): CacheEntry | undefined; previous(): CacheEntry | undefined } {
  const scoped = repository === undefined ? undefined : cacheKeyOf(registry, repository);
  const candidates = (): CacheEntry[] => {
    const own = scoped === undefined ? undefined : cache.read(scoped);
    const shared = cache.read(registry);
    const list = own ? [own] : [];
    if (shared && (scoped === undefined || shared.kind === 'credential')) list.push(shared);
    return list;
  };
  return {
    usable: (at) => candidates().find((entry) => freshnessOf(entry, at) === 'fresh'),
    previous: () => candidates().find((entry) => entry.kind !== 'absent') ?? candidates()[0],
  };
}

const LOCK_WAIT_SLACK_MS = 2000;
const LOCK_STALE_SLACK_MS = 3000;

// Single flight: the lock for this key, or the moment the result (a fresh entry or a shared
// failure) is there, or the time budget. Returns the release (a no-op without the lock).
async function waitForOtherFetch(
  lockKey: string,
  what: string,
  settings: HelperSettings,
  diagnostics: Diagnostics,
  cache: CredentialCache,
  satisfied: () => boolean,
): Promise<() => void> {
  const lockPath = cache.lockPath(lockKey);
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
  if (lock.status === 'unavailable')
    diagnostics.warn(`${lock.reason}: asking the server without waiting for other docker-credential-dstack processes`);
  if (lock.status === 'timed_out')
    diagnostics.warn(
      `waited ${settings.timeoutMs + LOCK_WAIT_SLACK_MS} ms for another docker-credential-dstack fetching ${what}; asking the server directly`,
    );
  return lock.status === 'acquired' ? lock.release : () => {};
}

// A failure recorded by another process after this one started waiting: a record other than
// the one that was there before (clocks are not compared: a frozen or injected clock, or two
// calls in one millisecond, would make an old record look new).
// Only a failure of the same server counts: processes with another server share the directory.
function recentFailure(
  cache: CredentialCache,
  lockKey: string,
  server: string,
  seenBefore: FetchFailure | undefined,
): FetchFailure | undefined {
  const failure = cache.readFailure(lockKey);
  if (failure === undefined || failure.server !== server) return undefined;
  if (seenBefore !== undefined && sameRecord(failure, seenBefore)) return undefined;
  return failure;
}

function sameRecord(a: FetchFailure, b: FetchFailure): boolean {
  return a.id === b.id && a.at === b.at && a.code === b.code && a.message === b.message;
}

// Unique enough to tell two records apart; not a secret (Math.random keeps crypto off the hot path).
function failureRecord(server: string, error: CodedError): FetchFailure {
  return {
    id: `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`,
    at: Date.now(),
    server,
    code: error.code,
    message: error.message,
  };
}

interface Asked {
  registry: string;
  repository: string | undefined;
  what: string;
  lockKey: string;
}

async function fetchAndStore(
  asked: Asked,
  settings: HelperSettings,
  diagnostics: Diagnostics,
  cache: CredentialCache,
  now: () => Date,
  deps: ResolveDeps,
  previous: CacheEntry | undefined,
): Promise<HostCredential | undefined> {
  const { registry, repository, what, lockKey } = asked;
  const client = await (deps.client ?? (() => defaultClient(settings, diagnostics)))();
  try {
    const credential = await client.getCredential(registry, repository);
    share(cache, lockKey, undefined);
    // Without a repository the service never answers bearer; a broken one that does gets nothing from us.
    if (credential.kind === 'bearer' && credential.repository !== repository)
      throw new CodedError(
        'bad_response',
        `dstack server ${settings.server} answered a token for repository "${credential.repository.slice(0, 100)}" when asked for ${what}`,
      );
    if (credential.kind === 'bearer') deps.brokered?.add(registry);
    const receivedAt = now();
    const skew = clockSkewNote(credential, receivedAt);
    if (skew !== undefined)
      diagnostics.warn(`${skew}: credential lifetimes are counted on the server's clock; set this host's time (NTP)`);
    const expiresOnHost = expiryOnHost(credential, receivedAt);
    const entry = entryOf(credential, registry, receivedAt, expiresOnHost);
    const answer = answerOf(entry, diagnostics);
    if (expiresOnHost.getTime() <= receivedAt.getTime()) {
      const clock =
        credential.serviceDate === undefined
          ? "by this host's clock (the answer had no Date header)"
          : `by the server's own clock (Date ${credential.serviceDate.toISOString()})`;
      diagnostics.warn(
        `the credential for ${what} from ${settings.server} is already expired ${clock} (expires_at ${credential.expiresAt.toISOString()}): check the server's clock; not caching it`,
      );
      return answer;
    }
    await store(cache, entry, diagnostics);
    const capped =
      entry.expiresAt < expiresOnHost
        ? ` (the server said ${credential.expiresAt.toISOString()}; capped at ${formatDuration(MAX_CACHE_LIFETIME_MS / 1000)}, the longest the service grants)`
        : '';
    diagnostics.debug(
      `cached ${credential.kind === 'bearer' ? 'registry token' : 'credential'} for ${what} until ${entry.expiresAt.toISOString()}${capped}`,
    );
    return answer;
  } catch (error) {
    if (!isCodedError(error)) throw error;
    if (error.code === 'not_found') {
      const note = error instanceof NoCredentialError ? noteOf(error.reason) : undefined;
      if (note !== undefined) diagnostics.warn(`${settings.server} has no credential for ${what}: ${note}`);
      else diagnostics.debug(`${settings.server} has no credential for ${what}`);
      const at = now();
      await store(
        cache,
        {
          kind: 'absent',
          registry,
          ...(repository !== undefined ? { repository } : {}),
          ...(note !== undefined ? { note } : {}),
          issuedAt: at,
          expiresAt: new Date(at.getTime() + ABSENT_TTL_MS),
        },
        diagnostics,
      );
      return undefined;
    }
    if (!isServiceUnreachable(error)) {
      // The server refused this host: a cached credential must not outlive that answer.
      for (const key of new Set([registry, cacheKeyOf(registry, repository)])) {
        try {
          cache.erase(key);
        } catch (eraseError) {
          diagnostics.warn(`cannot remove the cache entry for ${what} (${oneLine(eraseError)})`);
        }
      }
      share(cache, lockKey, failureRecord(settings.server, error));
      throw error;
    }
    share(cache, lockKey, failureRecord(settings.server, error));
    return fallBack(what, error, settings, diagnostics, previous, now);
  }
}

// The entry's expiry is in this host's clock terms (expiryOnHost), capped at the longest the
// service grants (a year-2999 expires_at is a broken server).
function entryOf(credential: ServiceCredential, registry: string, issuedAt: Date, expiresOnHost: Date): CacheEntry {
  const expiresAt = cappedExpiry(issuedAt, expiresOnHost);
  if (credential.kind === 'bearer')
    return {
      kind: 'bearer',
      registry,
      repository: credential.repository,
      token: credential.token,
      issuedAt,
      expiresAt,
    };
  return {
    kind: 'credential',
    registry,
    username: credential.username,
    secret: credential.secret,
    issuedAt,
    expiresAt,
  };
}

// The service's reason for "no credential", when it is more than "none configured" (which
// every public image pull would otherwise print): a brokered registry asked without a
// repository says why it answers only repository-scoped requests.
function noteOf(reason: string | undefined): string | undefined {
  if (reason === undefined || /^no credential/i.test(reason)) return undefined;
  return reason;
}

// Best-effort: the waiters then ask themselves.
function share(cache: CredentialCache, lockKey: string, failure: FetchFailure | undefined): void {
  try {
    cache.recordFailure(lockKey, failure);
  } catch {
    // nothing to do
  }
}

function fallBack(
  what: string,
  error: CodedError,
  settings: HelperSettings,
  diagnostics: Diagnostics,
  previous: CacheEntry | undefined,
  now: () => Date,
): HostCredential | undefined {
  if (previous && freshnessOf(previous, now()) !== 'expired') {
    if (previous.kind === 'absent') return undefined;
    diagnostics.warn(
      `refreshing the credential for ${what} failed (${oneLine(error)}); serving the cached one, valid until ${previous.expiresAt.toISOString()}`,
    );
    return answerOf(previous, diagnostics);
  }
  if (settings.onError === 'anonymous') {
    diagnostics.warn(`${oneLine(error)}; pulling ${what} anonymously (DOCKER_CREDENTIAL_DSTACK_ON_ERROR=anonymous)`);
    return undefined;
  }
  throw error;
}

async function store(cache: CredentialCache, entry: CacheEntry, diagnostics: Diagnostics): Promise<void> {
  try {
    await cache.write(entry);
  } catch (error) {
    diagnostics.warn(
      `cannot write the cache entry for ${entry.registry} (${oneLine(error)}); the next pull asks the server again`,
    );
  }
}

async function defaultClient(settings: HelperSettings, diagnostics: Diagnostics): Promise<ServiceClient> {
  const { createServiceClient } = await import('../client/service-client.ts');
  return createServiceClient(settings, {
    warn: (msg) => diagnostics.warn(msg),
    debug: (msg) => diagnostics.debug(msg),
  });
}

function answerOf(entry: CacheEntry, diagnostics: Diagnostics): HostCredential | undefined {
  // Half the capped life, as freshnessOf counts it: an entry file written with a far expiry must
  // not keep the endpoint's in-memory copy for longer than the cache itself would serve it fresh.
  const expiresAt = cappedExpiry(entry.issuedAt, entry.expiresAt);
  const freshUntil = new Date(entry.issuedAt.getTime() + (expiresAt.getTime() - entry.issuedAt.getTime()) / 2);
  if (entry.kind === 'credential') return { kind: 'basic', username: entry.username, secret: entry.secret, freshUntil };
  if (entry.kind === 'bearer') return { kind: 'bearer', token: entry.token, repository: entry.repository, freshUntil };
  if (entry.note !== undefined) diagnostics.warn(`no credential for ${entry.registry}: ${entry.note}`);
  return undefined;
}
