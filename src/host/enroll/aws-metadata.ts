import type { MetadataFetch } from './metadata-client.ts';

export interface AwsEvidence {
  cloud: 'aws';
  document: string;
  signature: string;
}

// IMDSv2: a session token first (PUT), then the identity document and its rsa2048 PKCS#7
// (SHA-256; not /pkcs7, which is DSA-SHA1). The document goes to the service byte for byte.
export async function readAwsEvidence(fetch: MetadataFetch): Promise<AwsEvidence> {
  const session = (
    await fetch({ method: 'PUT', path: '/latest/api/token', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' } })
  ).trim();
  const headers = { 'x-aws-ec2-metadata-token': session };
  const document = await fetch({ method: 'GET', path: '/latest/dynamic/instance-identity/document', headers });
  const signature = (
    await fetch({ method: 'GET', path: '/latest/dynamic/instance-identity/rsa2048', headers })
  ).replace(/\s+/g, '');
  return { cloud: 'aws', document, signature };
}
