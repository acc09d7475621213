import { X509Certificate } from 'node:crypto';
import { request } from 'node:http';

// Hosts an Azure signing certificate's CA Issuers URL may name: the intermediate is fetched
// only from Microsoft's PKI, never from wherever a certificate points.
const ISSUER_HOSTS = new Set(['www.microsoft.com']);
const MAX_BYTES = 64 * 1024;
const cache = new Map<string, X509Certificate>();

// Azure's PKCS#7 carries the signing certificate alone; its issuer comes from the AIA
// "CA Issuers" URL (plain http, as AIA is), cached for the life of the process.
export async function fetchIssuerCertificate(cert: X509Certificate): Promise<X509Certificate | undefined> {
  const url = /CA Issuers - URI:(http:\/\/[^\s,]+)/.exec(cert.infoAccess ?? '')?.[1];
  if (!url) return undefined;
  const parsed = new URL(url);
  if (!ISSUER_HOSTS.has(parsed.hostname)) return undefined;
  const cached = cache.get(url);
  if (cached) return cached;
  const body = await new Promise<Buffer>((resolve, reject) => {
    const req = request(parsed, { timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BYTES) req.destroy(new Error('too large'));
        else chunks.push(chunk);
      });
      res.on('end', () =>
        res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`HTTP ${res.statusCode}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
  const issuer = new X509Certificate(body);
  cache.set(url, issuer);
  return issuer;
}
