import { X509Certificate, type KeyObject } from 'node:crypto';
import type { AwsEnrollment } from './enrollment-config.ts';
import { AWS_RSA2048_CERTIFICATES } from './aws-region-certificates.ts';
import { EnrollmentRefused } from './enrollment-refused.ts';
import { parseSignedContent, signedBy } from './pkcs7-signed-data.ts';
import { isCodedError } from '../../common/errors.ts';
import type { VerifiedIdentity } from './verified-identity.ts';

// What the host sends: the identity document as IMDS served it, and the base64 body of
// /latest/dynamic/instance-identity/rsa2048 (PKCS#7, SHA-256 with RSA-2048, content attached).
export interface AwsEvidence {
  document: string;
  signature: string;
}

// A document is a day-one artefact, not a stream: a few hundred bytes, bounded to refuse junk.
const MAX_EVIDENCE_CHARS = 8 * 1024;
// A pendingTime a little ahead of our clock is clock skew, not the future.
const CLOCK_SKEW_MS = 60_000;

// Verifies AWS evidence the way SPIRE's aws_iid does, pitfalls closed: the PKCS#7 is signed by
// the pinned certificate of the document's own region (or an additional anchor), the content it
// signs must equal the document sent (a genuine signature beside a forged document is refused),
// the account is allowed, the region too if the rule names regions, and the instance launched
// within the window. Expiry dates of AWS's certificates are not checked: only their keys matter.
export function verifyAwsEvidence(evidence: AwsEvidence, config: AwsEnrollment, now: Date): VerifiedIdentity {
  if (
    typeof evidence.document !== 'string' ||
    typeof evidence.signature !== 'string' ||
    evidence.document.length > MAX_EVIDENCE_CHARS ||
    evidence.signature.length > MAX_EVIDENCE_CHARS
  ) {
    throw new EnrollmentRefused(
      'evidence_malformed',
      'AWS evidence needs "document" and "signature" (the rsa2048 body), each a string under 8 KiB',
    );
  }
  const der = Buffer.from(evidence.signature.replace(/-----[A-Z0-9 ]+-----/g, '').replace(/\s+/g, ''), 'base64');
  let signed;
  try {
    signed = parseSignedContent(der, 'AWS rsa2048 signature');
  } catch (error) {
    if (isCodedError(error))
      throw new EnrollmentRefused(
        'signature_invalid',
        error.message.replace(/^[^:]*rejected: /, 'AWS rsa2048 signature: '),
      );
    throw error;
  }
  // Read from what was signed; compared with what was sent byte for byte once the signature holds.
  const doc = parseDocument(signed.content.toString('utf8'));
  if (!doc)
    throw new EnrollmentRefused(
      'evidence_malformed',
      'the signed document lacks accountId, instanceId, region or pendingTime',
    );
  const keys = signingKeys(doc.region, config.additionalTrustAnchors);
  if (!keys.some((key) => signedBy(signed, key))) {
    throw new EnrollmentRefused(
      'signature_invalid',
      `the document is not signed by AWS's certificate for region ${doc.region}`,
      doc.instance,
    );
  }
  if (!signed.content.equals(Buffer.from(evidence.document, 'utf8'))) {
    throw new EnrollmentRefused(
      'document_mismatch',
      'the document differs from the content AWS signed; send the document exactly as IMDS served it',
      doc.instance,
    );
  }
  const rule = config.accounts.find((a) => a.accountId === doc.accountId);
  if (!rule)
    throw new EnrollmentRefused(
      'account_not_allowed',
      `AWS account ${doc.accountId} is not allowed; add it to aws.accounts in the enrollment config`,
      doc.instance,
    );
  if (rule.regions.length > 0 && !rule.regions.includes(doc.region)) {
    throw new EnrollmentRefused(
      'region_not_allowed',
      `region ${doc.region} is not allowed for AWS account ${doc.accountId}`,
      doc.instance,
    );
  }
  const age = now.getTime() - doc.pendingTime.getTime();
  if (age > config.pendingTimeWindowSeconds * 1000 || age < -CLOCK_SKEW_MS) {
    throw new EnrollmentRefused(
      'evidence_stale',
      `instance ${doc.instanceId} launched at ${doc.pendingTime.toISOString()}, outside the enrollment window of ${config.pendingTimeWindowSeconds}s; issue it a token with issue-token`,
      doc.instance,
    );
  }
  return {
    cloud: 'aws',
    account: doc.accountId,
    instanceId: doc.instanceId,
    project: rule.project,
    instance: doc.instance,
    reenroll: rule.reenroll.includes(doc.instanceId),
  };
}

interface IdentityDocument {
  accountId: string;
  instanceId: string;
  region: string;
  pendingTime: Date;
  instance: string;
}

function parseDocument(text: string): IdentityDocument | undefined {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const { accountId, instanceId, region, pendingTime } = data ?? {};
  if (typeof accountId !== 'string' || !/^\d{12}$/.test(accountId)) return undefined;
  if (typeof instanceId !== 'string' || !/^i-[0-9a-f]{8,32}$/.test(instanceId)) return undefined;
  if (typeof region !== 'string' || !/^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/.test(region)) return undefined;
  const launched = typeof pendingTime === 'string' ? new Date(pendingTime) : undefined;
  if (!launched || Number.isNaN(launched.getTime())) return undefined;
  return { accountId, instanceId, region, pendingTime: launched, instance: `aws:${accountId}:${instanceId}` };
}

const pinned = new Map<string, KeyObject>();

function signingKeys(region: string, additional: string[]): KeyObject[] {
  const keys = additional.map((pem) => keyOf(pem));
  const regional = AWS_RSA2048_CERTIFICATES[region];
  if (regional) keys.unshift(keyOf(regional));
  return keys;
}

function keyOf(pem: string): KeyObject {
  let key = pinned.get(pem);
  if (!key) {
    key = new X509Certificate(pem).publicKey;
    pinned.set(pem, key);
  }
  return key;
}
