import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectVendorRefusalAnswer } from '../../../helpers/vendor-refusal.ts';
import { startTestService, START, type TestService } from '../../../helpers/service-harness.ts';
import { FAILURE_HOLD_MS } from '../../../../src/service/sources/cloud/minting-source.ts';
import { ecrServiceEnv, startEcrStandIn, type EcrStandIn } from '../../../fixtures/cloud/ecr-stand-in.ts';

// The ecr source in-process, against the ECR stand-in that checks SigV4 for the configured key
// and region, with the service's clock frozen and moved by hand: the credential lives as long
// as the minted token says, is minted once per account and region and kept to half its life,
// and every vendor refusal is one readable line and a metric.
const ACCOUNT = '123456789012';
const REGION = 'eu-central-1';
const REGISTRY = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
// The same account and region under another name: one mint serves both.
const ALIAS = 'ecr.internal.example';
const HOUR = 3600;

let dir: string;
let ecr: EcrStandIn;
let svc: TestService;
let token: string;
const savedEnv = { ...process.env };

async function credential(registry = REGISTRY) {
  return svc.request('/v1/credentials', { token, body: { registry } });
}

describe('ecr source: minted by the AWS SDK at an endpoint that checks SigV4', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ecr-source-'));
    ecr = await startEcrStandIn({ region: REGION, account: ACCOUNT });
    // The SDK's credential chain and endpoint override read the process environment.
    Object.assign(process.env, ecrServiceEnv(ecr));
    const config = join(dir, 'config.json');
    await writeFile(
      config,
      JSON.stringify({
        registries: [
          { registry: REGISTRY, source: 'ecr' },
          { registry: ALIAS, source: 'ecr', account: ACCOUNT, region: REGION },
        ],
      }),
    );
    svc = await startTestService({ env: { DSTACK_REGISTRY_AUTH_CONFIG: config } });
    token = await svc.mint('i-ecr', 'main', 30 * 24 * HOUR);
  });
  afterAll(async () => {
    await svc?.close();
    await ecr?.close();
    process.env = savedEnv;
    await rm(dir, { recursive: true, force: true });
  });

  it('hands out AWS:<token> with the minted expiry, once per account and region', async () => {
    const first = await credential();
    expect(first.status, first.text).toBe(200);
    expect(first.json).toMatchObject({
      kind: 'basic',
      username: 'AWS',
      secret: ecr.password,
      source: 'ecr',
      registry: REGISTRY,
    });
    expect(Math.abs(Date.parse(first.json.expires_at) - (START.getTime() + 12 * HOUR * 1000))).toBeLessThan(5_000);
    expect(ecr.rejected).toEqual([]);
    const alias = await credential(ALIAS);
    expect(alias.json).toMatchObject({ username: 'AWS', secret: ecr.password, expires_at: first.json.expires_at });
    expect(ecr.mints).toBe(1);
  });

  it('keeps the credential to half its life, then mints again with the new token’s lifetime', async () => {
    svc.advance(6 * HOUR - 60);
    expect((await credential()).json.expires_at).toBe((await credential()).json.expires_at);
    expect(ecr.mints).toBe(1);
    ecr.lifetimeSeconds = HOUR;
    svc.advance(120);
    const renewed = await credential();
    expect(ecr.mints).toBe(2);
    expect(Math.abs(Date.parse(renewed.json.expires_at) - (svc.now().getTime() + HOUR * 1000))).toBeLessThan(5_000);
    // A one-hour token is kept half an hour.
    svc.advance(HOUR / 2 - 60);
    await credential();
    expect(ecr.mints).toBe(2);
    svc.advance(120);
    await credential();
    expect(ecr.mints).toBe(3);
    expect(
      svc.metric('dstack_registry_auth_cloud_token_cache_total', `registry="${REGISTRY}",result="hit",source="ecr"`),
    ).toBeGreaterThanOrEqual(3);
  });

  it('mints once for a burst of requests after expiry (single flight)', async () => {
    svc.advance(HOUR);
    const before = ecr.mints;
    const answers = await Promise.all(Array.from({ length: 8 }, () => credential()));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(ecr.mints).toBe(before + 1);
  });

  it.each([
    [
      400,
      'InvalidParameterException',
      'bad_request',
      /AWS answered HTTP 400 InvalidParameterException; check account \d{12} and region [a-z0-9-]+$/,
      false,
    ],
    [
      403,
      'AccessDeniedException',
      'denied',
      /HTTP 403 AccessDeniedException; grant the server's identity ecr:GetAuthorizationToken$/,
      false,
    ],
    [429, 'ThrottlingException', 'throttled', /HTTP 429 ThrottlingException: throttled; retry shortly$/, true],
    [500, 'ServerException', 'vendor_error', /HTTP 500 ServerException; retry later$/, true],
    [503, 'ServiceUnavailableException', 'vendor_error', /HTTP 503 ServiceUnavailableException; retry later$/, true],
  ])(
    'AWS answering %i %s: 503 with one line for the host, metric outcome %s',
    async (status, type, outcome, line, retry) => {
      svc.advance(2 * HOUR);
      ecr.failWith = { status, type };
      try {
        const answer = await credential();
        expectVendorRefusalAnswer(svc, answer, { registry: REGISTRY, source: 'ecr', line, retry, outcome });
        expect(answer.json.error).toBe('unavailable');
        expect(answer.json.message).toMatch(
          new RegExp(
            `^registry ${REGISTRY.replace(/\./g, '\\.')} \\(source ecr\\): AWS answered HTTP ${status} ${type}`,
          ),
        );
        expect(answer.json.message).not.toContain('\n');
        expect(answer.json.message).not.toContain('fixture:');
        // The vendor's own message is for the service log.
        expect(svc.logLines.some((l) => l.includes(`fixture: ${type}`))).toBe(true);
        // Asked again within FAILURE_HOLD_MS: the same answer, and the vendor is not asked.
        const asked = ecr.requests;
        expect((await credential()).json.message).toBe(answer.json.message);
        expect(ecr.requests).toBe(asked);
      } finally {
        ecr.failWith = undefined;
      }
      svc.advance(FAILURE_HOLD_MS / 1000);
      expect((await credential()).status).toBe(200);
    },
  );

  it('a wrong secret key: the signature is refused and the host is told to check the service’s AWS keys', async () => {
    svc.advance(2 * HOUR);
    const right = ecr.key.secretAccessKey;
    process.env.AWS_SECRET_ACCESS_KEY = 'not-the-secret';
    // The SDK caches the identity it resolved: a fresh service reads the variable again.
    const other = await startTestService({ env: { DSTACK_REGISTRY_AUTH_CONFIG: join(dir, 'config.json') } });
    try {
      const answer = await other.request('/v1/credentials', {
        token: await other.mint('i-ecr', 'main'),
        body: { registry: REGISTRY },
      });
      expect(answer.status).toBe(503);
      expect(answer.json.message).toMatch(
        /HTTP 403 InvalidSignatureException: the server's AWS keys are not accepted; check them$/,
      );
      expect(ecr.rejected.at(-1)).toBe('signature does not match');
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = right;
      await other.close();
    }
  });

  it('the AWS secret key is in no answer, log or audit line', async () => {
    const answers = JSON.stringify(await credential());
    for (const text of [answers, svc.logLines.join('\n'), svc.auditLines.join('\n'), svc.service.metrics.render()])
      expect(text).not.toContain(ecr.key.secretAccessKey);
  });
});
