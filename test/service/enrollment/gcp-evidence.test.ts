import { DatabaseSync } from 'node:sqlite';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createGcpVerifier, gcpAudience } from '../../../src/service/enrollment/gcp-evidence.ts';
import { createNonceStore, type NonceStore } from '../../../src/service/enrollment/nonce-store.ts';
import { EnrollmentRefused } from '../../../src/service/enrollment/enrollment-refused.ts';
import type { GcpEnrollment } from '../../../src/service/enrollment/enrollment-config.ts';

const PREFIX = 'https://registry-auth.example/v1/enroll?nonce=';
const NOW = new Date('2026-12-01T10:00:00Z');

// A key the test made stands in for Google's; Google's own JWKS URL points at a closed port,
// so nothing here leaves the machine, and a key that is not the anchor's is refused.
describe('GCP identity tokens', () => {
  let key: CryptoKey;
  let jwk: JWK;
  let other: CryptoKey;
  let nonces: NonceStore;
  let config: GcpEnrollment;
  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    key = pair.privateKey;
    jwk = { ...(await exportJWK(pair.publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
    ({ privateKey: other } = await generateKeyPair('RS256'));
    nonces = createNonceStore(new DatabaseSync(':memory:'), ':memory:');
    config = {
      projects: [{ projectId: 'dstack-gpu-fleet', project: 'gpu', zones: [], reenroll: [] }],
      certificatesUrl: 'http://127.0.0.1:9/certs',
      additionalTrustAnchors: { keys: [jwk] },
    };
  });

  const verify = (token: unknown, now = NOW) =>
    createGcpVerifier({ config, nonces, audiencePrefix: PREFIX })(token, now);
  async function token(
    options: {
      aud?: string;
      iss?: string;
      projectId?: string;
      signer?: CryptoKey;
      kid?: string;
      exp?: Date;
      compute?: boolean;
    } = {},
  ) {
    const nonce = nonces.issue('gcp', NOW, 300).nonce;
    const claims: Record<string, unknown> = {
      google:
        options.compute === false
          ? {}
          : {
              compute_engine: {
                project_id: options.projectId ?? 'dstack-gpu-fleet',
                project_number: 4242,
                zone: 'europe-west4-a',
                instance_id: '1234567890123456789',
                instance_name: 'runner-1',
              },
            },
    };
    const jwt = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'test-key', typ: 'JWT' })
      .setIssuer(options.iss ?? 'https://accounts.google.com')
      .setAudience(options.aud ?? gcpAudience(PREFIX, nonce))
      .setSubject('112233445566778899')
      .setIssuedAt(Math.floor(NOW.getTime() / 1000) - 10)
      .setExpirationTime(options.exp ?? new Date(NOW.getTime() + 3600_000))
      .sign(options.signer ?? key);
    return { jwt, nonce };
  }
  async function refusal(run: Promise<unknown>): Promise<EnrollmentRefused> {
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (error instanceof EnrollmentRefused) return error;
    throw new Error(`expected a refusal, got ${String(error)}`);
  }

  it('takes a token for the issued audience once, and names the instance by its id', async () => {
    const { jwt } = await token();
    expect(await verify(jwt)).toEqual({
      cloud: 'gcp',
      account: 'dstack-gpu-fleet',
      instanceId: '1234567890123456789',
      project: 'gpu',
      instance: 'gcp:dstack-gpu-fleet:1234567890123456789',
      reenroll: false,
    });
    const again = await refusal(verify(jwt));
    expect(again.reason).toBe('nonce_invalid');
    expect(again.message).toMatch(/^enrollment refused: the nonce in the audience is stale/);
  });

  it('refuses another audience, an expired nonce, and a nonce this service never issued', async () => {
    expect((await refusal(verify((await token({ aud: 'https://attacker.example/enroll' })).jwt))).reason).toBe(
      'audience_mismatch',
    );
    const { jwt } = await token();
    expect((await refusal(verify(jwt, new Date(NOW.getTime() + 301_000)))).reason).toBe('nonce_invalid');
    expect((await refusal(verify((await token({ aud: `${PREFIX}${'x'.repeat(32)}` })).jwt))).reason).toBe(
      'nonce_invalid',
    );
  });

  it("refuses a key that is not an anchor's, a wrong issuer, an unlisted project, a token without compute claims, an expired token", async () => {
    // A kid the anchors lack goes to Google's JWKS URL (closed here): unavailable, never accepted.
    const unreachable = await verify((await token({ signer: other, kid: 'unknown' })).jwt).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(unreachable).toMatchObject({ code: 'unavailable' });
    expect((unreachable as Error).message).toMatch(/^Google's signing keys could not be fetched/);
    expect((await refusal(verify((await token({ signer: other })).jwt))).reason).toBe('signature_invalid');
    expect((await refusal(verify((await token({ iss: 'https://evil.example' })).jwt))).reason).toBe('issuer_invalid');
    expect((await refusal(verify((await token({ projectId: 'someone-else' })).jwt))).reason).toBe(
      'account_not_allowed',
    );
    expect((await refusal(verify((await token({ compute: false })).jwt))).reason).toBe('evidence_malformed');
    expect((await refusal(verify((await token({ exp: new Date(NOW.getTime() - 3600_000) })).jwt))).reason).toBe(
      'evidence_stale',
    );
    expect((await refusal(verify('not.a.jwt'))).reason).toBe('evidence_malformed');
  });

  it('refuses an HS256 token even when its secret is a public key', async () => {
    const hs = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: 'test-key' })
      .setAudience(PREFIX)
      .sign(new TextEncoder().encode('0123456789abcdef0123456789abcdef'));
    expect((await refusal(verify(hs))).reason).toBe('signature_invalid');
  });
});
