import type { MetadataFetch } from './metadata-client.ts';

export interface GcpEvidence {
  cloud: 'gcp';
  token: string;
}

// The instance identity token, format=full (it then names project, zone and instance id), for
// the audience the service issued for this attempt: the nonce in it makes a stolen token
// useless once the service has taken it, or minutes later.
export async function readGcpEvidence(fetch: MetadataFetch, audience: string): Promise<GcpEvidence> {
  const query = `audience=${encodeURIComponent(audience)}&format=full`;
  const token = await fetch({
    method: 'GET',
    path: `/computeMetadata/v1/instance/service-accounts/default/identity?${query}`,
    headers: { 'metadata-flavor': 'Google' },
  });
  return { cloud: 'gcp', token: token.trim() };
}
