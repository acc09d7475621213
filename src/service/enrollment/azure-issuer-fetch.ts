import { X509Certificate } from 'node:crypto';
import { request } from 'node:http';

// Hosts an Azure signing certificate's CA Issuers URL may name: the intermediate is fetched
// only from Microsoft's PKI, never from wherever a certificate points.
const ISSUER_HOSTS = new Set(['www.microsoft.com']);
const MAX_BYTES = 64 * 1024;
// Microsoft has a handful of Azure intermediates: a few cached ones serve every VM.
const MAX_CACHED = 32;
// Fetches at most this many per minute: anyone can present a certificate of their own naming
// some path on www.microsoft.com, and must not make the service fetch for them at will.
const FETCHES_PER_MINUTE = 10;
const cache = new Map<string, X509Certificate>();
let window = { startedAt: 0, fetches: 0 };

// Azure's PKCS#7 carries the signing certificate alone; its issuer comes from the AIA
// "CA Issuers" URL (plain http, as AIA is). Only a certificate file path on Microsoft's PKI
// host is fetched, and the answer is kept only when it really issued `cert` (name and
// signature), so neither an attacker's URL nor a tampered plain-http answer stays in the cache.
export async function fetchIssuerCertificate(
  cert: X509Certificate,
  now: () => number = Date.now,
): Promise<X509Certificate | undefined> {
  const url = /CA Issuers - URI:(http:\/\/[^\s,]+)/.exec(cert.infoAccess ?? '')?.[1];
  if (!url) return undefined;
  const parsed = new URL(url);
  if (!ISSUER_HOSTS.has(parsed.hostname)) return undefined;
  if (parsed.search !== '' || parsed.hash !== '' || !/^\/[A-Za-z0-9/._%-]{1,200}\.(crt|cer)$/i.test(parsed.pathname))
    return undefined;
  const cached = cache.get(url);
  if (cached && cert.checkIssued(cached) && cert.verify(cached.publicKey)) return cached;
  if (now() - window.startedAt >= 60_000) window = { startedAt: now(), fetches: 0 };
  if (window.fetches >= FETCHES_PER_MINUTE) return undefined;
  window.fetches++;
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
  if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) return undefined;
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(url, issuer);
  return issuer;
}
