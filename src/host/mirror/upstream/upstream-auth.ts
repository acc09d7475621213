import { withDeadline } from '../../../common/deadline.ts';
import { CodedError } from '../../../common/errors.ts';
import { checkRealm } from '../../../registry/token-realm.ts';
import type { HostCredential } from '../../credentials/host-credential.ts';
import { parseChallenge, type Challenge } from './challenge.ts';
import { fetchRegistryToken, refreshAt, type RegistryToken } from './registry-token.ts';
import type { UpstreamHttp } from './upstream-http.ts';
import type { Upstream } from './upstream.ts';

// How the endpoint answers an upstream's challenge for one repository: what it learnt the
// upstream asks for (pinging /v2/ once), and registry tokens per scope, kept in memory until
// shortly before they expire, fetched once however many pulls ask at the same moment.
export interface UpstreamAuth {
  // The Authorization header for a pull of `repository` from `upstream`, or undefined.
  authorization(
    upstream: Upstream,
    repository: string,
    credential: HostCredential | undefined,
  ): Promise<string | undefined>;
  // After a 401: remember the challenge it carried and forget the tokens that failed.
  refused(upstream: Upstream, repository: string, challengeHeader: string | string[] | undefined): void;
  // The challenge of an upstream (pinging it when not known yet); 'none' for an open registry.
  challengeOf(upstream: Upstream): Promise<Challenge | 'none'>;
}

export interface UpstreamAuthDeps {
  http: UpstreamHttp;
  now?: () => number;
  // Counted: registry tokens fetched from realms.
  onTokenFetch?: (realm: string) => void;
  // Realm hosts any upstream's credential may go to: the dstack server's own (an issuer
  // registry's realm is the server that issued the pull ticket, so nothing new learns it).
  serverRealmHosts?: readonly string[];
  // Longest a shared ping or token fetch may take before every pull waiting on it fails.
  sharedDeadlineMs?: number;
}

const SHARED_DEADLINE_MS = 60_000;

export function createUpstreamAuth(deps: UpstreamAuthDeps): UpstreamAuth {
  const now = deps.now ?? Date.now;
  const challenges = new Map<string, Challenge | 'none'>();
  const pings = new Map<string, Promise<Challenge | 'none'>>();
  const tokens = new Map<string, { token: RegistryToken; refreshAt: number }>();
  const inflight = new Map<string, Promise<RegistryToken>>();
  const deadlineMs = deps.sharedDeadlineMs ?? SHARED_DEADLINE_MS;

  async function challengeOf(upstream: Upstream): Promise<Challenge | 'none'> {
    const known = challenges.get(upstream.origin);
    if (known) return known;
    let ping = pings.get(upstream.origin);
    if (!ping) {
      ping = withDeadline(
        (async () => {
          const answer = await deps.http.exchange({
            method: 'GET',
            url: new URL('/v2/', upstream.origin),
            headers: {},
            maxBody: 64 * 1024,
          });
          const challenge =
            answer.status === 401 ? (parseChallenge(answer.headers['www-authenticate']) ?? 'none') : 'none';
          challenges.set(upstream.origin, challenge);
          return challenge;
        })(),
        deadlineMs,
        () => sharedTimeout(`the challenge ping to ${upstream.origin}/v2/`, deadlineMs),
      ).finally(() => pings.delete(upstream.origin));
      pings.set(upstream.origin, ping);
    }
    return ping;
  }

  async function registryToken(
    challenge: Extract<Challenge, { scheme: 'bearer' }>,
    realm: URL,
    scope: string,
    credential: Extract<HostCredential, { kind: 'basic' }> | undefined,
  ): Promise<RegistryToken> {
    const key = tokenKey(challenge, scope, credential?.username);
    const cached = tokens.get(key);
    if (cached && now() < cached.refreshAt) return cached.token;
    let pending = inflight.get(key);
    if (!pending) {
      let cancelled = false;
      pending = withDeadline(
        (async () => {
          const fetchedAt = now();
          deps.onTokenFetch?.(challenge.realm);
          const token = await fetchRegistryToken(
            deps.http,
            { realm, service: challenge.service },
            scope,
            credential,
            now,
          );
          if (!cancelled) tokens.set(key, { token, refreshAt: refreshAt(token, fetchedAt) });
          return token;
        })(),
        deadlineMs,
        () => sharedTimeout(`the token fetch from ${realm.origin}`, deadlineMs),
        () => (cancelled = true),
      ).finally(() => inflight.delete(key));
      inflight.set(key, pending);
    }
    return pending;
  }

  return {
    challengeOf,
    async authorization(upstream, repository, credential) {
      if (credential?.kind === 'bearer') return `Bearer ${credential.token.reveal()}`;
      const challenge = await challengeOf(upstream);
      if (challenge === 'none') return undefined;
      if (challenge.scheme === 'basic')
        return credential
          ? `Basic ${Buffer.from(`${credential.username}:${credential.secret.reveal()}`).toString('base64')}`
          : undefined;
      const realm = realmFor(upstream, challenge.realm, deps.serverRealmHosts ?? [], credential);
      const token = await registryToken(challenge, realm, pullScope(repository), credential);
      return `Bearer ${token.token.reveal()}`;
    },
    refused(upstream, repository, header) {
      const challenge = parseChallenge(header);
      const before = challenges.get(upstream.origin);
      if (challenge) challenges.set(upstream.origin, challenge);
      else challenges.delete(upstream.origin);
      for (const c of [before, challenge]) {
        if (c && c !== 'none' && c.scheme === 'bearer') {
          for (const key of [...tokens.keys()])
            if (key.startsWith(tokenKeyPrefix(c, pullScope(repository)))) tokens.delete(key);
        }
      }
    },
  };
}

// Where the upstream's challenge sends the credential (src/registry/token-realm.ts): a realm
// URL a credential may cross, on the upstream's own host (and port) or one configured for it
// (src/registry/realm-binding.ts). An anonymous token request carries nothing: only its URL
// is checked.
function realmFor(
  upstream: Upstream,
  realmText: string,
  serverHosts: readonly string[],
  credential: HostCredential | undefined,
): URL {
  const own = new URL(upstream.origin).host;
  const checked = checkRealm(realmText, own, [...(upstream.realms ?? []), ...serverHosts], {
    bound: credential !== undefined,
  });
  if (checked.ok) return checked.url;
  if (checked.problem === 'unbound')
    throw new CodedError(
      'realm_unbound',
      `${checked.why}; if that realm is the registry's own, list ${checked.realmHost} with --upstream-realm or in the dstack server's realms for ${upstream.registry}`,
    );
  throw new CodedError('realm_failed', `${checked.why}; check the registry's auth configuration`);
}

// A shared ping or token fetch past its deadline fails every pull waiting on it, and is dropped
// from its map (the .finally at each caller), so the next pull asks afresh.
function sharedTimeout(what: string, ms: number): CodedError {
  return new CodedError('upstream_timeout', `${what} did not finish within ${ms / 1000} s`);
}

export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

function tokenKeyPrefix(challenge: Extract<Challenge, { scheme: 'bearer' }>, scope: string): string {
  return `${challenge.realm}\n${challenge.service ?? ''}\n${scope}\n`;
}

function tokenKey(
  challenge: Extract<Challenge, { scheme: 'bearer' }>,
  scope: string,
  username: string | undefined,
): string {
  return `${tokenKeyPrefix(challenge, scope)}${username ?? ''}`;
}
