import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectVendorRefusalAnswer } from '../../../helpers/vendor-refusal.ts';
import { startTestService, START, type TestService } from '../../../helpers/service-harness.ts';
import { FAILURE_HOLD_MS } from '../../../../src/service/sources/cloud/minting-source.ts';
import { acrEntry, acrServiceEnv, startAcrStandIn, type AcrStandIn } from '../../../fixtures/cloud/acr-stand-in.ts';

// The acr source in-process: Azure's identity library gets an Entra ID token from the managed
// identity endpoint, the service trades it at the registry's /oauth2/exchange, and the ACR
// refresh token goes out as the null GUID's password with the refresh token's own expiry, kept
// to half of it on the service's frozen clock, one exchange at a time.
const REGISTRY = 'fleet.azurecr.io';
const NULL_GUID = '00000000-0000-0000-0000-000000000000';
const HOUR = 3600;

let dir: string;
let acr: AcrStandIn;
let svc: TestService;
let token: string;
const savedEnv = { ...process.env };

const credential = () => svc.request('/v1/credentials', { token, body: { registry: REGISTRY } });

describe('acr source: an Entra ID token from Azure’s identity library, exchanged at the registry', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'acr-source-'));
    acr = await startAcrStandIn({ registry: REGISTRY, rotate: true });
    Object.assign(process.env, acrServiceEnv(acr));
    const config = join(dir, 'config.json');
    await writeFile(config, JSON.stringify({ registries: [acrEntry(REGISTRY, acr)] }));
    svc = await startTestService({ env: { DSTACK_REGISTRY_AUTH_CONFIG: config } });
    token = await svc.mint('i-acr', 'main', 30 * 24 * HOUR);
  });
  afterAll(async () => {
    await svc?.close();
    await acr?.close();
    process.env = savedEnv;
    await rm(dir, { recursive: true, force: true });
  });

  it('hands out the refresh token for the null GUID with its expiry', async () => {
    const first = await credential();
    expect(first.status, first.text).toBe(200);
    expect(first.json).toMatchObject({ kind: 'basic', username: NULL_GUID, secret: acr.refreshToken, source: 'acr' });
    expect(Math.abs(Date.parse(first.json.expires_at) - (START.getTime() + 3 * HOUR * 1000))).toBeLessThan(5_000);
    expect(acr.rejected).toEqual([]);
    expect([acr.entraTokens, acr.exchanges]).toEqual([1, 1]);
  });

  it('keeps it to half its life, then exchanges again; a burst after expiry exchanges once', async () => {
    svc.advance(1.5 * HOUR - 60);
    await credential();
    expect(acr.exchanges).toBe(1);
    acr.lifetimeSeconds = HOUR;
    svc.advance(120);
    const renewed = await credential();
    expect(acr.exchanges).toBe(2);
    expect(renewed.json.secret).toBe(acr.refreshToken);
    expect(Math.abs(Date.parse(renewed.json.expires_at) - (svc.now().getTime() + HOUR * 1000))).toBeLessThan(5_000);
    svc.advance(HOUR / 2 + 10);
    await Promise.all(Array.from({ length: 6 }, () => credential()));
    expect(acr.exchanges).toBe(3);
  });

  it.each([
    [
      400,
      'bad_request',
      /the registry's \/oauth2\/exchange answered HTTP 400: the exchange was refused; check the registry name and tenant$/,
      false,
    ],
    [
      403,
      'denied',
      /the registry's \/oauth2\/exchange answered HTTP 403; grant the server's identity AcrPull on the registry$/,
      false,
    ],
    [429, 'throttled', /the registry's \/oauth2\/exchange answered HTTP 429: throttled; retry shortly$/, true],
    [502, 'vendor_error', /the registry's \/oauth2\/exchange answered HTTP 502; retry later$/, true],
  ])(
    'the exchange answering %i: 503, one line for the host, metric outcome %s',
    async (status, outcome, line, retry) => {
      svc.advance(2 * HOUR);
      acr.failWith = status;
      try {
        const answer = await credential();
        expectVendorRefusalAnswer(svc, answer, { registry: REGISTRY, source: 'acr', line, retry, outcome });
      } finally {
        acr.failWith = undefined;
      }
      svc.advance(FAILURE_HOLD_MS / 1000);
      expect((await credential()).status).toBe(200);
    },
  );

  it('the Entra ID token and the identity header are in no answer, log or audit line', async () => {
    for (const text of [
      JSON.stringify(await credential()),
      svc.logLines.join('\n'),
      svc.auditLines.join('\n'),
      svc.service.metrics.render(),
    ]) {
      expect(text).not.toContain(acr.entraToken);
      expect(text).not.toContain(acr.identityHeader);
    }
  });
});
