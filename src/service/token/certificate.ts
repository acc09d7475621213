import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import type { SigningKey } from '../core/ports.ts';

// Ten years: the certificate only carries the public key to registries that pin it in
// their rootcertbundle; the key is rotated by replacing it, not by letting a date pass.
const VALIDITY_MS = 10 * 365 * 24 * 3600 * 1000;
// Registries whose clock runs a little behind must already accept a fresh certificate.
const BACKDATE_MS = 3600 * 1000;

// A self-signed X.509 certificate for a registry-token signing key: what the registry's
// `rootcertbundle` trusts and what each token names in its `x5c` header. The subject names
// the issuer and the key id. Node cannot create certificates, so @peculiar/x509 builds the
// ASN.1 while Node's WebCrypto signs; it is loaded only here, on the rare path that creates one.
export async function createSelfSignedCertificate(key: SigningKey, issuerName: string, now: Date): Promise<string> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  const algorithm =
    key.alg === 'ES256'
      ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  if (key.alg === 'EdDSA') throw new Error('registry tokens are signed with ES256 or RS256 keys, not EdDSA');
  const privateKey = await webcrypto.subtle.importKey(
    'pkcs8',
    key.privateKey.export({ format: 'der', type: 'pkcs8' }),
    algorithm,
    false,
    ['sign'],
  );
  const publicKey = await webcrypto.subtle.importKey(
    'spki',
    key.publicKey.export({ format: 'der', type: 'spki' }),
    algorithm,
    true,
    ['verify'],
  );
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      // A positive 128-bit serial: the first byte's high bit cleared.
      serialNumber: `${(randomBytes(1)[0]! & 0x7f).toString(16).padStart(2, '0')}${randomBytes(15).toString('hex')}`,
      name: [{ O: ['dstack-registry-auth'] }, { CN: [`${issuerName} registry token signing ${key.kid.slice(0, 16)}`] }],
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + VALIDITY_MS),
      signingAlgorithm: algorithm,
      keys: { privateKey, publicKey },
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
        await x509.SubjectKeyIdentifierExtension.create(publicKey, false, webcrypto as unknown as Crypto),
      ],
    },
    webcrypto as unknown as Crypto,
  );
  return certificate.toString('pem');
}

// True when the PEM certificate carries exactly this key's public key and has not expired at
// `now`. A certificate that is not valid *yet* (a clock stepped back) is kept: replacing it
// would silently break every registry whose bundle holds it.
export function certificateFits(pem: string, key: SigningKey, now: Date): boolean {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    return false;
  }
  const spki = (k: { export(o: { format: 'der'; type: 'spki' }): Buffer }) => k.export({ format: 'der', type: 'spki' });
  if (!spki(certificate.publicKey).equals(spki(key.publicKey))) return false;
  return now.getTime() < certificate.validToDate.getTime();
}

const derCache = new Map<string, string>();

// The certificate's DER bytes in standard base64: one element of a JWS `x5c` header.
// Remembered per certificate, because every realm response needs it.
export function certificateDerBase64(pem: string): string {
  let der = derCache.get(pem);
  if (der === undefined) {
    der = Buffer.from(new X509Certificate(pem).raw).toString('base64');
    if (derCache.size > 16) derCache.clear();
    derCache.set(pem, der);
  }
  return der;
}
