import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectVendorRefusalAnswer } from '../../../helpers/vendor-refusal.ts';
import { startTestService, START, type TestService } from '../../../helpers/service-harness.ts';
import { FAILURE_HOLD_MS } from '../../../../src/service/sources/cloud/minting-source.ts';
import {
  garEntry,
  startGoogleTokenStandIn,
  type GoogleTokenStandIn,
} from '../../../fixtures/cloud/google-token-stand-in.ts';

// The gar source in-process: Google's auth library signs the JWT bearer grant with the
// service-account key, the stand-in checks it against the account's public key, and the
// access token is handed out as oauth2accesstoken's password with its own expiry, kept to half
// of it on the service's frozen clock, one mint at a time.
const REGISTRY = 'europe-docker.pkg.dev';
const HOUR = 3600;

let dir: string;
let google: GoogleTokenStandIn;
let svc: TestService;
let token: string;

const credential = () => svc.request('/v1/credentials', { token, body: { registry: REGISTRY } });

describe('gar source: minted by Google’s auth library at a token endpoint that checks the JWT grant', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gar-source-'));
    google = await startGoogleTokenStandIn({ keyFile: join(dir, 'sa-key.json') });
    const config = join(dir, 'config.json');
    await writeFile(
      config,
      JSON.stringify({
        registries: [
          garEntry(REGISTRY, google),
          { registry: 'gcr.io', source: 'gar', keyFile: join(dir, 'missing-key.json') },
        ],
      }),
    );
    svc = await startTestService({ env: { DSTACK_REGISTRY_AUTH_CONFIG: config } });
    token = await svc.mint('i-gar', 'main', 30 * 24 * HOUR);
  });
  afterAll(async () => {
    await svc?.close();
    await google?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('hands out oauth2accesstoken with the access token and its expiry', async () => {
    const first = await credential();
    expect(first.status, first.text).toBe(200);
    expect(first.json).toMatchObject({
      kind: 'basic',
      username: 'oauth2accesstoken',
      secret: google.password,
      source: 'gar',
    });
    expect(Math.abs(Date.parse(first.json.expires_at) - (START.getTime() + 3599 * 1000))).toBeLessThan(5_000);
    expect(google.rejected).toEqual([]);
    expect(google.mints).toBe(1);
  });

  it('keeps it to half its life, then mints a fresh one; a burst after expiry mints once', async () => {
    svc.advance(HOUR / 2 - 60);
    await credential();
    expect(google.mints).toBe(1);
    google.lifetimeSeconds = 600;
    svc.advance(120);
    const renewed = await credential();
    expect(google.mints).toBe(2);
    expect(Math.abs(Date.parse(renewed.json.expires_at) - (svc.now().getTime() + 600_000))).toBeLessThan(5_000);
    svc.advance(290);
    await credential();
    expect(google.mints).toBe(2);
    svc.advance(20);
    await Promise.all(Array.from({ length: 6 }, () => credential()));
    expect(google.mints).toBe(3);
    expect(
      svc.metric('dstack_registry_auth_cloud_token_cache_total', `registry="${REGISTRY}",result="joined",source="gar"`),
    ).toBeGreaterThanOrEqual(1);
  });

  it.each([
    [
      400,
      'invalid_request',
      'bad_request',
      /Google answered HTTP 400 invalid_request: Google refused the request; check the key file$/,
      false,
    ],
    [
      403,
      'access_denied',
      'denied',
      /Google answered HTTP 403 access_denied; grant the service account roles\/artifactregistry\.reader$/,
      false,
    ],
    [
      429,
      'rate_limit_exceeded',
      'throttled',
      /Google answered HTTP 429 rate_limit_exceeded: throttled; retry shortly$/,
      true,
    ],
    [503, 'backend_error', 'vendor_error', /Google answered HTTP 503 backend_error; retry later$/, true],
  ])(
    'Google answering %i %s: 503, one line for the host, metric outcome %s',
    async (status, error, outcome, line, retry) => {
      svc.advance(HOUR);
      google.failWith = { status, error };
      try {
        const answer = await credential();
        expectVendorRefusalAnswer(svc, answer, { registry: REGISTRY, source: 'gar', line, retry, outcome });
        // Asked again within FAILURE_HOLD_MS: the same answer, and the vendor is not asked.
        const asked = google.requests;
        expect((await credential()).json.message).toBe(answer.json.message);
        expect(google.requests).toBe(asked);
      } finally {
        google.failWith = undefined;
      }
      svc.advance(FAILURE_HOLD_MS / 1000);
      expect((await credential()).status).toBe(200);
    },
  );

  it('a missing key file: the host is told, the path stays in the service log', async () => {
    const answer = await svc.request('/v1/credentials', { token, body: { registry: 'gcr.io' } });
    expect(answer.status).toBe(503);
    expect(answer.json.message).toBe(
      'registry gcr.io (source gar): the service-account key file cannot be read (ENOENT); the service log names it',
    );
    expect(svc.logLines.some((l) => l.includes('missing-key.json'))).toBe(true);
  });

  it('the private key is in no answer, log or audit line', async () => {
    const key = JSON.parse(await readFile(google.keyFile, 'utf8')).private_key as string;
    const body = key.split('\n')[1]!;
    for (const text of [
      JSON.stringify(await credential()),
      svc.logLines.join('\n'),
      svc.auditLines.join('\n'),
      svc.service.metrics.render(),
    ])
      expect(text).not.toContain(body);
  });
});
