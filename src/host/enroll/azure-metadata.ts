import { CodedError } from '../../common/errors.ts';
import type { MetadataFetch } from './metadata-client.ts';

export interface AzureEvidence {
  cloud: 'azure';
  signature: string;
}

// The attested document for the service's nonce: IMDS signs {nonce, subscriptionId, vmId, …}
// as PKCS#7 and answers {"encoding": "pkcs7", "signature": "<base64>"}.
export async function readAzureEvidence(fetch: MetadataFetch, nonce: string): Promise<AzureEvidence> {
  const text = await fetch({
    method: 'GET',
    path: `/metadata/attested/document?api-version=2020-09-01&nonce=${encodeURIComponent(nonce)}`,
    headers: { metadata: 'true' },
  });
  let answer: { encoding?: unknown; signature?: unknown };
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    throw new CodedError(
      'bad_response',
      'the metadata service sent an attested document that is not JSON; is this an Azure VM?',
    );
  }
  if (answer.encoding !== 'pkcs7' || typeof answer.signature !== 'string')
    throw new CodedError(
      'bad_response',
      'the metadata service sent an attested document without a pkcs7 signature; is this an Azure VM?',
    );
  return { cloud: 'azure', signature: answer.signature };
}
