import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzureVerifier } from '../../../src/service/enrollment/azure-evidence.ts';
import { createNonceStore, type NonceStore } from '../../../src/service/enrollment/nonce-store.ts';
import { EnrollmentRefused } from '../../../src/service/enrollment/enrollment-refused.ts';
import type { AzureEnrollment } from '../../../src/service/enrollment/enrollment-config.ts';
import { makeAzurePki, type AzurePki, type TestCa } from '../../helpers/enrollment-evidence.ts';

const SUBSCRIPTION = '0b1e3c5d-7f90-4a2b-8c4d-6e8f0a1b2c3d';
const VM = '11111111-2222-4333-8444-555555555501';

describe('Azure attested documents', () => {
  let dir: string;
  let pki: AzurePki;
  let leaf: TestCa;
  let nonces: NonceStore;
  let config: AzureEnrollment;
  // After the certificates were made (openssl dates them to the second of their making).
  let now: Date;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcd-azure-evidence-'));
    pki = await makeAzurePki(dir);
    leaf = await pki.leaf('imds-leaf', 'westeurope.metadata.azure.com');
    now = new Date(Date.now() + 2000);
    nonces = createNonceStore(new DatabaseSync(':memory:'), ':memory:');
    config = {
      subscriptions: [{ subscriptionId: SUBSCRIPTION, project: 'gpu', reenroll: [] }],
      metadataDomains: ['metadata.azure.com'],
      additionalTrustAnchors: [pki.root.pem],
    };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function attested(
    options: { nonce?: string; chain?: boolean; noattr?: boolean; content?: Record<string, unknown> } = {},
  ) {
    const nonce = options.nonce ?? nonces.issue('azure', now, 300).nonce;
    const input = join(dir, `content-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(
      input,
      JSON.stringify({
        nonce,
        subscriptionId: SUBSCRIPTION,
        vmId: VM,
        timeStamp: { createdOn: '01/01/26 00:00:00 -0000', expiresOn: '12/31/99 00:00:00 -0000' },
        ...options.content,
      }),
    );
    const args = [
      'cms',
      '-sign',
      '-nodetach',
      '-binary',
      '-md',
      'sha256',
      '-signer',
      leaf.certFile,
      '-inkey',
      leaf.keyFile,
      '-in',
      input,
      '-outform',
      'DER',
    ];
    if (options.chain !== false) args.push('-certfile', pki.intermediate.certFile);
    if (options.noattr) args.push('-noattr');
    // stripFinalNewline off: DER is binary, and a signature that happens to end in 0x0a must stay whole.
    const { stdout } = await execa('openssl', args, { encoding: 'buffer', stripFinalNewline: false });
    return Buffer.from(stdout).toString('base64');
  }
  async function refusal(run: Promise<unknown>): Promise<EnrollmentRefused> {
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (error instanceof EnrollmentRefused) return error;
    throw new Error(`expected a refusal, got ${String(error)}`);
  }
  const verifier = (
    overrides: Partial<AzureEnrollment> = {},
    fetchIssuer: (c: X509Certificate) => Promise<X509Certificate | undefined> = async () => undefined,
  ) => createAzureVerifier({ config: { ...config, ...overrides }, nonces, fetchIssuer });

  it('takes a document whose signer chains to an anchor, for an issued nonce, once', async () => {
    const signature = await attested();
    expect(await verifier()(signature, now)).toEqual({
      cloud: 'azure',
      account: SUBSCRIPTION,
      instanceId: VM,
      project: 'gpu',
      instance: `azure:${SUBSCRIPTION}:${VM}`,
      reenroll: false,
    });
    expect((await refusal(verifier()(signature, now))).reason).toBe('nonce_invalid');
  });

  it('takes a signature made over the content itself, with no signed attributes', async () => {
    expect((await verifier()(await attested({ noattr: true }), now)).instanceId).toBe(VM);
  });

  it('refuses a signer that chains only to roots not trusted (the embedded Microsoft roots alone)', async () => {
    const error = await refusal(verifier({ additionalTrustAnchors: [] })(await attested(), now));
    expect(error.reason).toBe('signer_invalid');
    expect(error.message).toMatch(/does not chain to Microsoft's roots/);
  });

  it('fetches a missing intermediate (as from the CA Issuers URL), and refuses when none comes', async () => {
    const missing = await refusal(verifier()(await attested({ chain: false }), now));
    expect(missing.message).toMatch(/no issuer found for imds-leaf/);
    const fetched = await verifier({}, async () => new X509Certificate(pki.intermediate.pem))(
      await attested({ chain: false }),
      now,
    );
    expect(fetched.instanceId).toBe(VM);
  });

  it('refuses an expired document, an unlisted subscription, a document without vmId, a tampered one', async () => {
    expect(
      (
        await refusal(
          verifier()(await attested({ content: { timeStamp: { expiresOn: '01/01/20 00:00:00 -0000' } } }), now),
        )
      ).reason,
    ).toBe('evidence_stale');
    expect(
      (
        await refusal(
          verifier()(await attested({ content: { subscriptionId: '99999999-9999-4999-8999-999999999999' } }), now),
        )
      ).reason,
    ).toBe('account_not_allowed');
    expect((await refusal(verifier()(await attested({ content: { vmId: undefined } }), now))).reason).toBe(
      'evidence_malformed',
    );
    const der = Buffer.from(await attested(), 'base64');
    const at = der.indexOf(Buffer.from(VM));
    der[at] = der[at] === 0x31 ? 0x32 : 0x31;
    expect((await refusal(verifier()(der.toString('base64'), now))).reason).toBe('signature_invalid');
  });
});
