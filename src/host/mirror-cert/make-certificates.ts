import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';

// Ten years: the name is loopback only, so no public CA's lifetime rules apply; rotating is
// running mirror-cert again. Backdated an hour for a host whose clock runs behind.
const VALIDITY_MS = 10 * 365 * 24 * 3600 * 1000;
const BACKDATE_MS = 3600 * 1000;
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface LoopbackCertificates {
  caPem: string;
  certPem: string;
  keyPem: string;
}

// A CA and a server certificate signed by it for the endpoint's loopback name: IP SAN
// 127.0.0.1 and DNS localhost always, plus `name` when it is another. The CA's private key is
// never returned: why: whoever trusts ca.pem (the dstack server's REQUESTS_CA_BUNDLE) then
// trusts this one certificate and nothing anyone could sign later. Node cannot build
// certificates; @peculiar/x509 builds the ASN.1 while Node's WebCrypto signs (loaded only here).
export async function makeLoopbackCertificates(name: string, now: Date = new Date()): Promise<LoopbackCertificates> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  const crypto = webcrypto as unknown as Crypto;
  const subtle = webcrypto.subtle;
  const caKeys = (await subtle.generateKey(ALGORITHM, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const serverKeys = (await subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const validity = {
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + VALIDITY_MS),
  };
  const caName = `CN=docker-credential-dstack mirror CA ${randomBytes(4).toString('hex')}, O=docker-credential-dstack`;
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: caName,
      ...validity,
      signingAlgorithm: ALGORITHM,
      keys: caKeys,
      extensions: [
        // Path length 0: this CA signs server certificates only, never another CA.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const names: Array<{ type: 'ip' | 'dns'; value: string }> = [
    { type: 'ip', value: '127.0.0.1' },
    { type: 'dns', value: 'localhost' },
  ];
  const extra = { type: isIP(name) ? 'ip' : 'dns', value: name } as const;
  if (!names.some((n) => n.type === extra.type && n.value === extra.value)) names.push(extra);
  const server = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: `CN=${name}`,
      issuer: ca.subject,
      ...validity,
      signingAlgorithm: ALGORITHM,
      publicKey: serverKeys.publicKey,
      signingKey: caKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(names),
        await x509.SubjectKeyIdentifierExtension.create(serverKeys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', serverKeys.privateKey)).toString('base64');
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { caPem: pem(ca.toString('pem')), certPem: pem(server.toString('pem')), keyPem };
}

// A positive 128-bit serial: the first byte's high bit cleared.
function serial(): string {
  return `${(randomBytes(1)[0]! & 0x7f).toString(16).padStart(2, '0')}${randomBytes(15).toString('hex')}`;
}

function pem(text: string): string {
  const normalized = text.replace(/\r\n/g, '\n');
  return normalized.endsWith('\n') ? normalized : `${normalized}\n`;
}
