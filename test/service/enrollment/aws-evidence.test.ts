import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAwsEvidence } from '../../../src/service/enrollment/aws-evidence.ts';
import type { AwsEnrollment } from '../../../src/service/enrollment/enrollment-config.ts';
import { EnrollmentRefused } from '../../../src/service/enrollment/enrollment-refused.ts';
import { awsDocument, makeTestCa, signDocument, type TestCa } from '../../helpers/enrollment-evidence.ts';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'enrollment');

// Real documents AWS signed (published as test data by Teleport, lib/auth/join_ec2_test.go):
// nobody here holds the key, so these prove the embedded production certificates.
async function realEvidence(region: string) {
  const signature = (await readFile(join(FIXTURES, `aws-${region}.rsa2048`), 'utf8')).replace(/\s+/g, '');
  const der = Buffer.from(signature, 'base64');
  // The document is the content the PKCS#7 carries: found between its JSON braces.
  const start = der.indexOf('{');
  const end = der.indexOf('}', start);
  return { signature, document: der.subarray(start, end + 1).toString('utf8') };
}

function rules(accountId: string, extra: Partial<AwsEnrollment> = {}): AwsEnrollment {
  return {
    accounts: [{ accountId, project: 'gpu', regions: [], reenroll: [] }],
    pendingTimeWindowSeconds: 900,
    additionalTrustAnchors: [],
    ...extra,
  };
}

function refusal(run: () => unknown): EnrollmentRefused {
  try {
    run();
  } catch (error) {
    if (error instanceof EnrollmentRefused) return error;
    throw error;
  }
  throw new Error('expected the enrollment to be refused');
}

describe('AWS evidence against the embedded AWS certificates', () => {
  it('verifies real rsa2048 documents of us-west-2 and us-west-1', async () => {
    const west2 = await realEvidence('us-west-2');
    const identity = verifyAwsEvidence(west2, rules('278576220453'), new Date('2021-09-03T21:30:00Z'));
    expect(identity).toMatchObject({
      cloud: 'aws',
      account: '278576220453',
      instanceId: 'i-078517ca8a70a1dde',
      project: 'gpu',
      instance: 'aws:278576220453:i-078517ca8a70a1dde',
      reenroll: false,
    });
    const west1 = await realEvidence('us-west-1');
    expect(verifyAwsEvidence(west1, rules('883474662888'), new Date('2021-09-11T00:20:00Z')).instanceId).toBe(
      'i-01b940c45fd11fe74',
    );
  });

  it('refuses a forged document beside a genuine signature', async () => {
    const real = await realEvidence('us-west-2');
    const forged = real.document.replace('i-078517ca8a70a1dde', 'i-0aaaaaaaaaaaaaaaa');
    const error = refusal(() =>
      verifyAwsEvidence({ ...real, document: forged }, rules('278576220453'), new Date('2021-09-03T21:30:00Z')),
    );
    expect(error.reason).toBe('document_mismatch');
    expect(error.message).toMatch(/^enrollment refused: the document differs from the content AWS signed/);
  });

  it('refuses an account not allowed, a region not allowed, and a document past the window', async () => {
    const real = await realEvidence('us-west-2');
    const at = new Date('2021-09-03T21:30:00Z');
    expect(refusal(() => verifyAwsEvidence(real, rules('111122223333'), at)).reason).toBe('account_not_allowed');
    const regional = rules('278576220453');
    regional.accounts[0]!.regions = ['eu-west-1'];
    expect(refusal(() => verifyAwsEvidence(real, regional, at)).reason).toBe('region_not_allowed');
    const stale = refusal(() => verifyAwsEvidence(real, rules('278576220453'), new Date('2021-09-04T21:30:00Z')));
    expect(stale.reason).toBe('evidence_stale');
    expect(stale.instance).toBe('aws:278576220453:i-078517ca8a70a1dde');
  });

  it('refuses a signature whose bytes were altered', async () => {
    const real = await realEvidence('us-west-1');
    const der = Buffer.from(real.signature, 'base64');
    der[der.length - 40]! ^= 0x01; // inside the RSA signature value
    const error = refusal(() =>
      verifyAwsEvidence(
        { ...real, signature: der.toString('base64') },
        rules('883474662888'),
        new Date('2021-09-11T00:20:00Z'),
      ),
    );
    expect(error.reason).toBe('signature_invalid');
  });
});

describe('AWS evidence signed by an additional trust anchor', () => {
  let dir: string;
  let ca: TestCa;
  const now = new Date();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcd-aws-evidence-'));
    ca = await makeTestCa(dir);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is taken only when the anchor is configured, never by region alone', async () => {
    const document = awsDocument({
      accountId: '123456789012',
      instanceId: 'i-0123456789abcdef0',
      region: 'eu-west-1',
      pendingTime: new Date(now.getTime() - 60_000),
    });
    const signature = await signDocument(ca, document, dir);
    const refused = refusal(() => verifyAwsEvidence({ document, signature }, rules('123456789012'), now));
    expect(refused.reason).toBe('signature_invalid');
    expect(refused.message).toContain("not signed by AWS's certificate for region eu-west-1");
    const identity = verifyAwsEvidence(
      { document, signature },
      rules('123456789012', { additionalTrustAnchors: [ca.pem] }),
      now,
    );
    expect(identity.instance).toBe('aws:123456789012:i-0123456789abcdef0');
  });

  it('refuses junk and detached signatures with one line', async () => {
    const document = awsDocument({
      accountId: '123456789012',
      instanceId: 'i-0123456789abcdef0',
      region: 'eu-west-1',
      pendingTime: now,
    });
    const junk = refusal(() =>
      verifyAwsEvidence(
        { document, signature: 'bm90IGEgc2lnbmF0dXJl' },
        rules('123456789012', { additionalTrustAnchors: [ca.pem] }),
        now,
      ),
    );
    expect(junk.reason).toBe('signature_invalid');
    expect(junk.message).not.toContain('\n');
    const missing = refusal(() => verifyAwsEvidence({ document } as never, rules('123456789012'), now));
    expect(missing.reason).toBe('evidence_malformed');
  });
});
