import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import type { RegistryEntry } from '../../core/ports.ts';
import { Secret } from '../../../common/secret.ts';
import { retryAfterFor, VendorFailure, type VendorOutcome } from '../../core/vendor-failure.ts';
import type { MintedCredential, Minter } from './minting-source.ts';

// Per request to AWS: the SDK's standard retry (throttling, 5xx) inside this many attempts.
const MAX_ATTEMPTS = 3;

// ECR through the AWS SDK: its standard credential chain on the server (environment, shared
// config and credentials files, SSO, web identity, the instance or task role) and its standard
// endpoint override (AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL); GetAuthorizationToken for the
// registry's account in its region. One client per region; the SDK caches the identity.
export function createEcrMinter(): Minter {
  const clients = new Map<string, ECRClient>();
  const clientFor = (region: string) => {
    let client = clients.get(region);
    if (!client) {
      client = new ECRClient({ region, maxAttempts: MAX_ATTEMPTS, requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000 } });
      clients.set(region, client);
    }
    return client;
  };
  return {
    scope: (entry) => `${entry.ecr!.account}\n${entry.ecr!.region}`,
    async mint(entry: RegistryEntry): Promise<MintedCredential> {
      const { account, region } = entry.ecr!;
      const what = `registry ${entry.key} (source ecr): GetAuthorizationToken for account ${account} in ${region}`;
      let answer;
      try {
        answer = await clientFor(region).send(new GetAuthorizationTokenCommand({ registryIds: [account] }));
      } catch (error) {
        throw ecrFailure(what, error);
      }
      const data = answer.authorizationData?.[0];
      const decoded = data?.authorizationToken ? Buffer.from(data.authorizationToken, 'base64').toString('utf8') : '';
      const colon = decoded.indexOf(':');
      if (!data?.expiresAt || colon <= 0 || colon === decoded.length - 1) throw new VendorFailure('bad_answer', `${what}: the answer holds no authorization token; check AWS_ENDPOINT_URL_ECR`);
      return { username: decoded.slice(0, colon), secret: new Secret(decoded.slice(colon + 1)), expiresAt: data.expiresAt };
    },
  };
}

// What an operator reads, per kind of failure: the status and AWS's error name, and the fix.
function ecrFailure(what: string, error: unknown): VendorFailure {
  const err = error as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number }; cause?: { code?: string } };
  const status = err.$metadata?.httpStatusCode;
  const name = err.name ?? 'Error';
  const fail = (outcome: VendorOutcome, text: string) =>
    new VendorFailure(outcome, `${what}: ${text}`, { ...(err.message ? { logDetail: err.message } : {}), ...(retryAfterFor(outcome) !== undefined ? { retryAfterSeconds: retryAfterFor(outcome)! } : {}) });
  if (name === 'CredentialsProviderError' || name === 'ProviderError') {
    return fail('no_credentials', 'no AWS credentials on the server (environment, shared config, web identity, instance role); give the service an identity allowed ecr:GetAuthorizationToken');
  }
  if (status === undefined) {
    const code = err.code ?? err.cause?.code ?? (name === 'TimeoutError' ? 'timeout' : name);
    const hint = code === 'ENOTFOUND' ? '; check the region' : '';
    return fail('unreachable', `AWS was not reached (${code})${hint}; retry later`);
  }
  const answered = `AWS answered HTTP ${status} ${name}`;
  if (status === 429 || /Throttl|TooManyRequests|RequestLimitExceeded/.test(name)) return fail('throttled', `${answered}: throttled; retry shortly`);
  if (status >= 500) return fail('vendor_error', `${answered}; retry later`);
  if (status === 403 && !/Signature|UnrecognizedClient|InvalidClientToken|ExpiredToken/.test(name)) {
    return fail('denied', `${answered}: access denied; grant the service's identity ecr:GetAuthorizationToken (docs/cloud-registries.md)`);
  }
  if (/Signature|UnrecognizedClient|InvalidClientToken|ExpiredToken/.test(name)) return fail('denied', `${answered}: AWS does not accept the server's credentials; check the service's AWS keys or role`);
  return fail('bad_request', `${answered}: AWS refused the request; check the registry's account and region`);
}
