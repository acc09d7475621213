import { X509Certificate } from 'node:crypto';
import { isCodedError } from '../../common/errors.ts';
import type { AzureEnrollment } from './enrollment-config.ts';
import { UUID } from './enrollment-config.ts';
import { AZURE_ROOT_CERTIFICATES } from './azure-root-certificates.ts';
import { EnrollmentRefused } from './enrollment-refused.ts';
import type { NonceStore } from './nonce-store.ts';
import { parseSignedContent, signedBy } from './pkcs7-signed-data.ts';
import type { VerifiedIdentity } from './verified-identity.ts';
import { fetchIssuerCertificate } from './azure-issuer-fetch.ts';

const MAX_EVIDENCE_CHARS = 16 * 1024;
const MAX_CHAIN = 4;

export interface AzureVerifierOptions {
  config: AzureEnrollment;
  nonces: NonceStore;
  // How a missing intermediate is fetched (its CA Issuers URL, Microsoft's host only); tests pass none.
  fetchIssuer?: (cert: X509Certificate) => Promise<X509Certificate | undefined>;
}

// Verifies an Azure IMDS attested document (/metadata/attested/document?nonce=…): one signer,
// whose certificate is in the PKCS#7, names metadata.azure.com (or a host under it) in its SAN
// and chains, valid today, to the embedded Microsoft/DigiCert roots or an additional anchor;
// the signed content carries the nonce this service issued (then used up), an allowed
// subscription, and the VM's id.
export function createAzureVerifier(
  options: AzureVerifierOptions,
): (signature: unknown, now: Date) => Promise<VerifiedIdentity> {
  const anchors = [...AZURE_ROOT_CERTIFICATES.map((r) => r.pem), ...options.config.additionalTrustAnchors].map(
    (pem) => new X509Certificate(pem),
  );
  const fetchIssuer = options.fetchIssuer ?? fetchIssuerCertificate;
  return async (signature, now) => {
    if (typeof signature !== 'string' || signature.length > MAX_EVIDENCE_CHARS)
      throw new EnrollmentRefused(
        'evidence_malformed',
        'Azure evidence needs "signature": the attested document\'s base64 PKCS#7, under 16 KiB',
      );
    let signed;
    try {
      signed = parseSignedContent(Buffer.from(signature.replace(/\s+/g, ''), 'base64'), 'Azure attested document', {
        requireAttributes: false,
      });
    } catch (error) {
      if (isCodedError(error))
        throw new EnrollmentRefused(
          'signature_invalid',
          error.message.replace(/^[^:]*rejected: /, 'Azure attested document: '),
        );
      throw error;
    }
    const bag = signed.certificates.map((der) => new X509Certificate(der));
    const signers = bag.filter((cert) => signedBy(signed, cert.publicKey));
    if (signers.length !== 1)
      throw new EnrollmentRefused(
        'signature_invalid',
        'the attested document is not signed by exactly one certificate it carries',
      );
    const signer = signers[0]!;
    if (!sanMatches(signer, options.config.metadataDomains)) {
      throw new EnrollmentRefused(
        'signer_invalid',
        `the signing certificate is not for ${options.config.metadataDomains.join(' or ')} (its SAN: ${(signer.subjectAltName ?? 'none').slice(0, 120)})`,
      );
    }
    await checkChain(signer, bag, anchors, now, fetchIssuer);
    const content = parseContent(signed.content.toString('utf8'));
    if (!content)
      throw new EnrollmentRefused('evidence_malformed', 'the attested document lacks nonce, subscriptionId or vmId');
    const instance = `azure:${content.subscriptionId}:${content.vmId}`;
    if (content.expiresOn !== undefined && content.expiresOn.getTime() < now.getTime())
      throw new EnrollmentRefused('evidence_stale', 'the attested document has expired; fetch a fresh one', instance);
    const rule = options.config.subscriptions.find((s) => s.subscriptionId === content.subscriptionId);
    if (!rule)
      throw new EnrollmentRefused(
        'account_not_allowed',
        `Azure subscription ${content.subscriptionId} is not allowed; add it to azure.subscriptions in the enrollment config`,
        instance,
      );
    if (!options.nonces.consume('azure', content.nonce, now)) {
      throw new EnrollmentRefused(
        'nonce_invalid',
        'the nonce in the attested document is stale: used already, expired, or not issued by this service; start the enrollment again',
        instance,
      );
    }
    return {
      cloud: 'azure',
      account: content.subscriptionId,
      instanceId: content.vmId,
      project: rule.project,
      instance,
      reenroll: rule.reenroll.includes(content.vmId),
    };
  };
}

// DNS names only, exactly a domain or a host under it (so metadata.azure.com.attacker.example fails).
function sanMatches(cert: X509Certificate, domains: string[]): boolean {
  const names = (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4).toLowerCase());
  return names.some((name) => domains.some((domain) => name === domain || name.endsWith(`.${domain}`)));
}

// Walks issuer by issuer (each certificate's signature checked, each valid today, each issuer a
// CA) until an anchor, with intermediates from the PKCS#7's bag, else fetched.
async function checkChain(
  leaf: X509Certificate,
  bag: X509Certificate[],
  anchors: X509Certificate[],
  now: Date,
  fetchIssuer: AzureVerifierOptions['fetchIssuer'] & {},
): Promise<void> {
  const refuse = (why: string) =>
    new EnrollmentRefused('signer_invalid', `the signing certificate does not chain to Microsoft's roots: ${why}`);
  let current = leaf;
  for (let depth = 0; depth <= MAX_CHAIN; depth++) {
    if (!validAt(current, now)) throw refuse(`${subjectCn(current)} is not valid now`);
    const anchor = anchors.find((a) => current.checkIssued(a) && current.verify(a.publicKey));
    if (anchor || anchors.some((a) => a.fingerprint256 === current.fingerprint256)) return;
    let issuer = bag.find((c) => c !== current && c.ca && current.checkIssued(c) && current.verify(c.publicKey));
    if (!issuer) {
      const fetched = await fetchIssuer(current).catch(() => undefined);
      if (fetched?.ca && current.checkIssued(fetched) && current.verify(fetched.publicKey)) issuer = fetched;
    }
    if (!issuer) throw refuse(`no issuer found for ${subjectCn(current)}`);
    current = issuer;
  }
  throw refuse('the chain is too long');
}

function validAt(cert: X509Certificate, now: Date): boolean {
  return new Date(cert.validFrom).getTime() <= now.getTime() && now.getTime() <= new Date(cert.validTo).getTime();
}

function subjectCn(cert: X509Certificate): string {
  return /CN=([^\n,]+)/.exec(cert.subject)?.[1]?.slice(0, 80) ?? 'a certificate';
}

interface AttestedContent {
  nonce: string;
  subscriptionId: string;
  vmId: string;
  expiresOn?: Date;
}

function parseContent(text: string): AttestedContent | undefined {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const nonce = data.nonce;
  const subscriptionId = typeof data.subscriptionId === 'string' ? data.subscriptionId.toLowerCase() : undefined;
  const vmId = typeof data.vmId === 'string' ? data.vmId.toLowerCase() : undefined;
  if (typeof nonce !== 'string' || !subscriptionId || !UUID.test(subscriptionId) || !vmId || !UUID.test(vmId))
    return undefined;
  const expires = (data.timeStamp as { expiresOn?: unknown } | undefined)?.expiresOn;
  return { nonce, subscriptionId, vmId, ...(typeof expires === 'string' ? { expiresOn: azureTime(expires) } : {}) };
}

// IMDS writes times as "MM/DD/YY HH:MM:SS -0000" (UTC).
function azureTime(text: string): Date | undefined {
  const m = /^(\d{2})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2}) -0000$/.exec(text);
  if (!m) return undefined;
  return new Date(
    Date.UTC(2000 + Number(m[3]), Number(m[1]) - 1, Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6])),
  );
}
