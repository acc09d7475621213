import { GoogleAuth, gaxios } from 'google-auth-library';
import type { RegistryEntry } from '../../core/ports.ts';
import { Secret } from '../../../common/secret.ts';
import {
  retryAfterFor,
  VENDOR_ATTEMPT_TIMEOUT_MS,
  VendorFailure,
  type VendorOutcome,
} from '../../core/vendor-failure.ts';
import type { MintedCredential, Minter } from './minting-source.ts';

// Artifact Registry (and gcr.io) take an OAuth2 access token as the password of this user.
export const GAR_USERNAME = 'oauth2accesstoken';
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
// Where Google's library sends a service account's JWT bearer grant (fixed in the library).
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
// Ask for a new token at every mint: this service keeps it (minting-source.ts), and a token the
// library had cached would reach hosts with part of its life gone.
const ALWAYS_REFRESH_MS = 10 * 365 * 86_400_000;

// Artifact Registry through Google's auth library: a service-account key file (the library signs
// the JWT bearer grant), or without one Application Default Credentials, on a Google VM the
// metadata server's identity (GCE_METADATA_HOST honoured). One client per key file.
export function createGarMinter(): Minter {
  const clients = new Map<string, GoogleAuth>();
  const authFor = (entry: RegistryEntry): GoogleAuth => {
    const scope = scopeOf(entry);
    let auth = clients.get(scope);
    if (!auth) {
      const { keyFile, tokenUrl } = entry.gar ?? {};
      auth = new GoogleAuth({
        scopes: [SCOPE],
        ...(keyFile !== undefined ? { keyFile } : {}),
        clientOptions: { eagerRefreshThresholdMillis: ALWAYS_REFRESH_MS, transporter: boundedTransporter(tokenUrl) },
      });
      clients.set(scope, auth);
    }
    return auth;
  };
  return {
    scope: scopeOf,
    async mint(entry: RegistryEntry): Promise<MintedCredential> {
      const what = `registry ${entry.key} (source gar)`;
      let token: string | null | undefined;
      let expiry: number | null | undefined;
      try {
        const client = await authFor(entry).getClient();
        token = (await client.getAccessToken()).token;
        expiry = client.credentials.expiry_date;
      } catch (error) {
        throw garFailure(what, entry, error);
      }
      if (!token || typeof expiry !== 'number')
        throw new VendorFailure('bad_answer', `${what}: Google's answer holds no access token with an expiry`);
      return { username: GAR_USERNAME, secret: new Secret(token), expiresAt: new Date(expiry) };
    },
  };
}

// Per credential: the key file (and where its grant goes), or the metadata server's identity.
function scopeOf(entry: RegistryEntry): string {
  return `${entry.gar?.keyFile ?? '(application default credentials)'}\n${entry.gar?.tokenUrl ?? ''}`;
}

// The library's transport with one retry and a bounded attempt (vendor-failure.ts), sending the
// token request to `tokenUrl` (a Private Service Connect endpoint) when one is set instead of
// Google's public one; the grant's audience stays Google's token URL.
function boundedTransporter(tokenUrl: string | undefined): gaxios.Gaxios {
  const transporter = new gaxios.Gaxios({
    timeout: VENDOR_ATTEMPT_TIMEOUT_MS,
    retryConfig: { retry: 1, noResponseRetries: 1 },
  });
  if (tokenUrl === undefined) return transporter;
  transporter.interceptors.request.add({
    resolved: async (config) => {
      if (String(config.url) === GOOGLE_TOKEN_URL) config.url = new URL(tokenUrl);
      return config;
    },
  });
  return transporter;
}

// What an operator reads: Google's status and OAuth2 error code, and the fix; at most 200
// characters reach the host. Google's description and the key file's path go to the log only.
function garFailure(what: string, entry: RegistryEntry, error: unknown): VendorFailure {
  const err = error as {
    message?: string;
    code?: string | number;
    status?: number;
    response?: { status?: number; data?: { error?: unknown } };
  };
  const status = err.response?.status ?? (typeof err.status === 'number' ? err.status : undefined);
  const code = typeof err.response?.data?.error === 'string' ? err.response.data.error.slice(0, 40) : undefined;
  const keyFile = entry.gar?.keyFile;
  const fail = (outcome: VendorOutcome, text: string) => {
    const retryAfterSeconds = retryAfterFor(outcome);
    const logDetail = `${keyFile !== undefined ? `key file ${keyFile}` : 'application default credentials'}${err.message ? `: ${err.message}` : ''}`;
    return new VendorFailure(outcome, `${what}: ${text}`, {
      logDetail,
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    });
  };
  if (status === undefined) {
    if (
      typeof err.code === 'string' &&
      /^E[A-Z]+$/.test(err.code) &&
      keyFile !== undefined &&
      /ENOENT|EACCES|EISDIR/.test(err.code)
    ) {
      return fail(
        'no_credentials',
        `the service-account key file cannot be read (${err.code}); the service log names it`,
      );
    }
    if (/default credentials|metadata/i.test(err.message ?? ''))
      return fail(
        'no_credentials',
        'no Google credentials on the server: give it a service-account key file (keyFile) or run it with a service account',
      );
    if (/private key|PEM|JSON|client_email/i.test(err.message ?? ''))
      return fail('no_credentials', 'the service-account key file is not a usable key; download a new JSON key');
    const network = typeof err.code === 'string' ? err.code : 'network error';
    return fail('unreachable', `Google's token endpoint was not reached (${network}); retry later`);
  }
  const answered = `Google answered HTTP ${status}${code ? ` ${code}` : ''}`;
  if (status === 429) return fail('throttled', `${answered}: throttled; retry shortly`);
  if (status >= 500) return fail('vendor_error', `${answered}; retry later`);
  if (status === 403) return fail('denied', `${answered}; grant the service account roles/artifactregistry.reader`);
  if (code === 'invalid_grant' || status === 401)
    return fail('denied', `${answered}: the key is not accepted; check the service account and its key`);
  return fail('bad_request', `${answered}: Google refused the request; check the key file`);
}
