import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { CodedError } from '../../common/errors.ts';
import { redactUrl } from '../../common/redact-url.ts';
import type { KubernetesCluster } from './kubernetes-config.ts';

// A cluster's signing keys, loaded on first use and kept. A token signed by a key the set does
// not hold (the API server rotated its key) loads the set again, at most once per
// REFRESH_COOLDOWN_MS, so a stream of tokens with made-up `kid`s cannot turn the service into a
// load on the API server. The set is also reloaded after MAX_AGE_MS, so a withdrawn key goes.
export const REFRESH_COOLDOWN_MS = 30_000;
export const MAX_AGE_MS = 10 * 60_000;
const FETCH_TIMEOUT_MS = 5_000;
// A JWKS holds a few keys; anything near this is not one.
const MAX_DOCUMENT_BYTES = 256 * 1024;

export interface ClusterKeys {
  // The key for a token's header; refetches (rate limited) when no key matches.
  getKey: JWTVerifyGetKey;
}

export interface ClusterKeysOptions {
  now?: () => number;
  fetch?: typeof fetch;
}

export function createClusterKeys(cluster: KubernetesCluster, options: ClusterKeysOptions = {}): ClusterKeys {
  const now = options.now ?? Date.now;
  const load = keyLoader(cluster, options.fetch ?? fetch);
  let current: { set: JWTVerifyGetKey; at: number } | undefined;
  let lastLoad = -Infinity;
  // A failed load is remembered for the cooldown: a request without a valid signature must not
  // make the service fetch the cluster's keys again and again while its endpoint is down.
  let failed: { error: unknown; at: number } | undefined;
  let loading: Promise<JWTVerifyGetKey> | undefined;
  // One load at a time; concurrent requests wait for it.
  const reload = (): Promise<JWTVerifyGetKey> => {
    loading ??= (async () => {
      lastLoad = now();
      try {
        const set = createLocalJWKSet(await load());
        current = { set, at: now() };
        failed = undefined;
        return set;
      } catch (error) {
        failed = { error, at: now() };
        throw error;
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  };
  return {
    async getKey(header, token) {
      const due = !current || now() - current.at > MAX_AGE_MS;
      const coolingDown = failed !== undefined && now() - failed.at < REFRESH_COOLDOWN_MS;
      if (due && !coolingDown) {
        // A reload that fails keeps the last good set (still valid keys) in use.
        await reload().catch((error: unknown) => {
          if (!current) throw error;
        });
      } else if (!current) throw failed!.error;
      const seen = current!;
      try {
        return await seen.set(header, token);
      } catch (error) {
        if ((error as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw error;
        // Another request is loading, or has loaded since: use that set; else load if allowed.
        if (loading) return (await loading)(header, token);
        if (current !== seen) return current!.set(header, token);
        if (now() - lastLoad < REFRESH_COOLDOWN_MS) throw error;
        return (await reload())(header, token);
      }
    },
  };
}

function keyLoader(cluster: KubernetesCluster, fetchImpl: typeof fetch): () => Promise<JSONWebKeySet> {
  const keys = cluster.keys;
  if (keys.kind === 'jwks_file') {
    return async () => {
      let text: string;
      try {
        text = await readFile(keys.path, 'utf8');
      } catch (error) {
        throw unavailable(
          `cannot read the JWKS file ${keys.path} of cluster ${cluster.issuer} (${(error as NodeJS.ErrnoException).code ?? 'error'}); save the cluster's keys there (kubectl get --raw /openid/v1/jwks)`,
        );
      }
      return jwks(text, `JWKS file ${keys.path}`, cluster.issuer);
    };
  }
  if (keys.kind === 'jwks_url')
    return async () =>
      jwks(await fetchText(fetchImpl, keys.url, cluster.issuer), `JWKS ${redactUrl(keys.url)}`, cluster.issuer);
  return async () => {
    const what = `OIDC discovery document ${redactUrl(keys.url)}`;
    const discovery = parseJson(await fetchText(fetchImpl, keys.url, cluster.issuer), what, cluster.issuer) as Record<
      string,
      unknown
    >;
    // The document speaks for the issuer only if it names it (OpenID Connect Discovery §4.3).
    if (discovery.issuer !== cluster.issuer)
      throw unavailable(
        `${what} names issuer ${String(discovery.issuer).slice(0, 100)}, not ${cluster.issuer}; check the cluster's issuer in the service config`,
      );
    if (typeof discovery.jwks_uri !== 'string') throw unavailable(`${what} has no jwks_uri`);
    return jwks(
      await fetchText(fetchImpl, discovery.jwks_uri, cluster.issuer),
      `JWKS ${redactUrl(discovery.jwks_uri)}`,
      cluster.issuer,
    );
  };
}

async function fetchText(fetchImpl: typeof fetch, url: string, issuer: string): Promise<string> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      headers: { accept: 'application/json' },
      redirect: 'error',
    });
  } catch {
    throw unavailable(
      `cannot reach ${redactUrl(url)} for the signing keys of cluster ${issuer}; check the URL, or give the keys as a jwksFile`,
    );
  }
  if (!response.ok)
    throw unavailable(
      `${redactUrl(url)} answered HTTP ${response.status} for the signing keys of cluster ${issuer}; the API server serves them to anonymous callers only with the system:service-account-issuer-discovery binding, else give a jwksFile`,
    );
  const text = await response.text();
  if (text.length > MAX_DOCUMENT_BYTES)
    throw unavailable(
      `${redactUrl(url)} answered a document larger than ${MAX_DOCUMENT_BYTES} bytes; it is not a key set`,
    );
  return text;
}

function jwks(text: string, what: string, issuer: string): JSONWebKeySet {
  const value = parseJson(text, what, issuer) as { keys?: unknown };
  if (!Array.isArray(value.keys)) throw unavailable(`${what} of cluster ${issuer} is not a JWKS (no "keys" list)`);
  return value as JSONWebKeySet;
}

function parseJson(text: string, what: string, issuer: string): unknown {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value;
  } catch {
    // reported below
  }
  throw unavailable(`${what} of cluster ${issuer} is not a JSON object`);
}

// The keys cannot be had: not the caller's fault, so 503 (the host retries), never 401.
function unavailable(message: string): CodedError {
  return new CodedError('unavailable', message);
}
