import {
  ChainedTokenCredential,
  EnvironmentCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import { decodeJwt } from 'jose';
import type { RegistryEntry } from '../../core/ports.ts';
import { Secret } from '../../../common/secret.ts';
import {
  retryAfterFor,
  VENDOR_ATTEMPT_TIMEOUT_MS,
  VendorFailure,
  type VendorOutcome,
} from '../../core/vendor-failure.ts';
import { defaultMirrorUrl } from '../../config/registry-urls.ts';
import { upstreamRequest, UpstreamUnreachable, type RetryPolicy } from '../broker/upstream-request.ts';
import type { MintedCredential, Minter } from './minting-source.ts';

// ACR takes its refresh token as the password of the null GUID.
export const ACR_USERNAME = '00000000-0000-0000-0000-000000000000';
// The Entra ID audience of every Azure container registry (public cloud).
const ACR_SCOPE = 'https://containerregistry.azure.net/.default';
// ACR's documented refresh token life, for a token that is not a JWT (ACR's are).
const DEFAULT_REFRESH_SECONDS = 3 * 3600;
// One retry, bounded, so a refusal reaches the host inside its timeout (vendor-failure.ts).
const EXCHANGE_POLICY: RetryPolicy = {
  attempts: 2,
  attemptTimeoutMs: VENDOR_ATTEMPT_TIMEOUT_MS,
  deadlineMs: 3_000,
  baseDelayMs: 100,
};

// ACR through Azure's identity library: the server's Entra ID identity (a client secret or
// certificate in AZURE_* variables, workload identity, or a managed identity), whose token the
// registry's /oauth2/exchange trades for an ACR refresh token. Tools on a desktop (Azure CLI,
// PowerShell) are left out: a service has no one logged in.
export function createAcrMinter(env: Record<string, string | undefined>): Minter {
  // Workload identity only where it is set up (its constructor throws otherwise); a
  // user-assigned managed identity is named by AZURE_CLIENT_ID, as DefaultAzureCredential reads it.
  const sources: TokenCredential[] = [new EnvironmentCredential()];
  if (env.AZURE_FEDERATED_TOKEN_FILE) sources.push(new WorkloadIdentityCredential());
  sources.push(new ManagedIdentityCredential(env.AZURE_CLIENT_ID ? { clientId: env.AZURE_CLIENT_ID } : {}));
  const identity = new ChainedTokenCredential(...sources);
  return {
    // A refresh token is for one registry (the exchange's `service`).
    scope: (entry) => `${entry.key}\n${entry.acr?.tenant ?? ''}`,
    async mint(entry: RegistryEntry): Promise<MintedCredential> {
      const what = `registry ${entry.key} (source acr)`;
      let entraToken: string;
      try {
        const got = await identity.getToken(ACR_SCOPE, {
          abortSignal: AbortSignal.timeout(2 * VENDOR_ATTEMPT_TIMEOUT_MS),
        });
        entraToken = got.token;
      } catch (error) {
        throw entraFailure(what, error);
      }
      // The Entra token goes only to the registry itself: its `upstream` (https, or loopback
      // http, as validateRegistryApiUrl allows) or https://<its name>; never to a mirror's host, which
      // may be plain http and is not the registry.
      const exchange = `${entry.upstreamUrl ?? defaultMirrorUrl(entry.key)}/oauth2/exchange`;
      const form = new URLSearchParams({
        grant_type: 'access_token',
        service: entry.key,
        access_token: entraToken,
        ...(entry.acr?.tenant ? { tenant: entry.acr.tenant } : {}),
      });
      let response;
      try {
        response = await upstreamRequest(
          exchange,
          () => ({
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'dstack-registry-auth' },
            body: form.toString(),
          }),
          EXCHANGE_POLICY,
          { readBody: true },
        );
      } catch (error) {
        if (error instanceof UpstreamUnreachable)
          throw failure(
            'unreachable',
            `${what}: the registry's /oauth2/exchange was not reached (${error.why}); retry later`,
          );
        throw error;
      }
      if (response.status !== 200) throw exchangeFailure(what, response.status, response.body);
      const refresh = refreshTokenOf(response.body);
      if (refresh === undefined)
        throw failure(
          'bad_answer',
          `${what}: the registry's /oauth2/exchange answer holds no refresh_token; check the registry name`,
        );
      return { username: ACR_USERNAME, secret: new Secret(refresh.token), expiresAt: refresh.expiresAt };
    },
  };
}

function refreshTokenOf(body: string): { token: string; expiresAt: Date } | undefined {
  let token: unknown;
  try {
    token = (JSON.parse(body) as { refresh_token?: unknown }).refresh_token;
  } catch {
    return undefined;
  }
  if (typeof token !== 'string' || token === '') return undefined;
  let exp: number | undefined;
  try {
    const claims = decodeJwt(token);
    exp = typeof claims.exp === 'number' ? claims.exp : undefined;
  } catch {
    exp = undefined;
  }
  return { token, expiresAt: new Date(exp !== undefined ? exp * 1000 : Date.now() + DEFAULT_REFRESH_SECONDS * 1000) };
}

function failure(outcome: VendorOutcome, message: string, logDetail?: string): VendorFailure {
  const retryAfterSeconds = retryAfterFor(outcome);
  return new VendorFailure(outcome, message, {
    ...(logDetail ? { logDetail } : {}),
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  });
}

// Entra ID's answer: the library's error names and status, never the token endpoint's body.
function entraFailure(what: string, error: unknown): VendorFailure {
  const err = error as { name?: string; message?: string; statusCode?: number };
  const detail = err.message;
  if (
    err.name === 'CredentialUnavailableError' ||
    (err.name === 'AggregateAuthenticationError' && /unavailable/i.test(detail ?? ''))
  ) {
    return failure(
      'no_credentials',
      `${what}: no Entra ID identity on the server; set AZURE_CLIENT_ID with a secret or certificate, or use a managed identity`,
      detail,
    );
  }
  const status = err.statusCode;
  if (status === undefined)
    return failure('unreachable', `${what}: Entra ID was not reached (${err.name ?? 'error'}); retry later`, detail);
  const answered = `Entra ID answered HTTP ${status}`;
  if (status === 429) return failure('throttled', `${what}: ${answered}: throttled; retry shortly`, detail);
  if (status >= 500) return failure('vendor_error', `${what}: ${answered}; retry later`, detail);
  return failure(
    'denied',
    `${what}: ${answered}: the server's identity is not accepted; check its client id, secret or certificate`,
    detail,
  );
}

// The registry's answer to the exchange; its body may echo the request (the Entra token in
// the form), so only its status reaches the host and only its error codes the log.
function exchangeFailure(what: string, status: number, body: string): VendorFailure {
  const answered = `${what}: the registry's /oauth2/exchange answered HTTP ${status}`;
  const logDetail = errorCodesOf(body);
  if (status === 429) return failure('throttled', `${answered}: throttled; retry shortly`, logDetail);
  if (status >= 500) return failure('vendor_error', `${answered}; retry later`, logDetail);
  if (status === 401 || status === 403)
    return failure('denied', `${answered}; grant the server's identity AcrPull on the registry`, logDetail);
  return failure('bad_request', `${answered}: the exchange was refused; check the registry name and tenant`, logDetail);
}

// `{"errors":[{"code":"UNAUTHORIZED",…}]}` → "UNAUTHORIZED"; nothing else of the body.
function errorCodesOf(body: string): string | undefined {
  try {
    const errors = (JSON.parse(body) as { errors?: Array<{ code?: unknown }> }).errors;
    const codes = (errors ?? [])
      .map((e) => e.code)
      .filter((c): c is string => typeof c === 'string' && /^[A-Z_]{1,40}$/.test(c));
    return codes.length > 0 ? `error codes ${codes.join(', ')}` : undefined;
  } catch {
    return undefined;
  }
}
