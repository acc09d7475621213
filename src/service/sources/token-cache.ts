// Short-lived tokens per scope (broker: registry key + repository; cloud sources: an account and
// region, or a credential), each kept while more than `keepWhileLeft` of its life is left (the
// broker: a quarter, so a host that receives one can still use it; cloud sources: half, as the
// vendors' own helpers do); requests for a scope whose token is being fetched wait for that one
// fetch (single flight). Bounded: past maxEntries the oldest entry goes.
export interface CachedToken<T> {
  value: T;
  expiresAt: Date;
  lifetimeSeconds: number;
}

// hit: from the cache; joined: waited for a fetch another request started; miss: fetched.
export type CacheResult = 'hit' | 'joined' | 'miss';

export interface TokenCache<T> {
  // `load` runs only on a miss; a failed load is not cached and reaches every waiter.
  get(
    scope: string,
    now: Date,
    load: () => Promise<CachedToken<T>>,
  ): Promise<{ value: CachedToken<T>; result: CacheResult }>;
  size(): number;
}

export const MAX_CACHED_TOKENS = 10_000;

export function createTokenCache<T>(maxEntries = MAX_CACHED_TOKENS, keepWhileLeft = 1 / 4): TokenCache<T> {
  const entries = new Map<string, CachedToken<T>>();
  const inFlight = new Map<string, Promise<CachedToken<T>>>();
  const fresh = (entry: CachedToken<T>, now: Date) =>
    entry.expiresAt.getTime() - now.getTime() > entry.lifetimeSeconds * 1000 * keepWhileLeft;

  return {
    async get(scope, now, load) {
      const cached = entries.get(scope);
      if (cached && fresh(cached, now)) return { value: cached, result: 'hit' };
      const pending = inFlight.get(scope);
      if (pending) return { value: await pending, result: 'joined' };
      const fetching = load().then((loaded) => {
        entries.delete(scope);
        entries.set(scope, loaded);
        if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
        return loaded;
      });
      inFlight.set(scope, fetching);
      try {
        return { value: await fetching, result: 'miss' };
      } finally {
        inFlight.delete(scope);
      }
    },
    size: () => entries.size,
  };
}
