import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import type { RegistryEntry } from '../../core/ports.ts';
import { Secret } from '../../../common/secret.ts';
import {
  retryAfterFor,
  VENDOR_ATTEMPT_TIMEOUT_MS,
  VendorFailure,
  type VendorOutcome,
} from '../../core/vendor-failure.ts';
import type { MintedCredential, Minter } from './minting-source.ts';

// Per request to AWS: the SDK's standard retry (throttling, 5xx) inside this many attempts,
// so a refusal reaches the host inside its timeout (vendor-failure.ts).
const MAX_ATTEMPTS = 2;

// ECR through the AWS SDK: its standard credential chain on the server (environment, shared
// config and credentials files, SSO, web identity, the instance or task role) and its standard
// endpoint override (AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL); GetAuthorizationToken for the
// registry's account in its region. One client per region; the SDK caches the identity.
export function createEcrMinter(): Minter {
  const clients = new Map<string, ECRClient>();
  const clientFor = (region: string) => {
    let client = clients.get(region);
    if (!client) {
      client = new ECRClient({
        region,
        maxAttempts: MAX_ATTEMPTS,
        // throwOnRequestTimeout: without it this SDK's requestTimeout only logs a warning.
        requestHandler: {
          connectionTimeout: VENDOR_ATTEMPT_TIMEOUT_MS,
          requestTimeout: VENDOR_ATTEMPT_TIMEOUT_MS,
          socketTimeout: VENDOR_ATTEMPT_TIMEOUT_MS,
          throwOnRequestTimeout: true,
        },
      });
      clients.set(region, client);
    }
    return client;
  };
  return {
    scope: (entry) => `${entry.ecr!.account}\n${entry.ecr!.region}`,
    async mint(entry: RegistryEntry): Promise<MintedCredential> {
      const { account, region } = entry.ecr!;
      const what = `registry ${entry.key} (source ecr)`;
      let answer;
      try {
        answer = await clientFor(region).send(new GetAuthorizationTokenCommand({ registryIds: [account] }));
      } catch (error) {
        throw ecrFailure(what, { account, region }, error);
      }
      const data = answer.authorizationData?.[0];
      const decoded = data?.authorizationToken ? Buffer.from(data.authorizationToken, 'base64').toString('utf8') : '';
      const colon = decoded.indexOf(':');
      if (!data?.expiresAt || colon <= 0 || colon === decoded.length - 1)
        throw new VendorFailure(
          'bad_answer',
          `${what}: AWS's answer holds no authorization token; check AWS_ENDPOINT_URL_ECR`,
        );
      return {
        username: decoded.slice(0, colon),
        secret: new Secret(decoded.slice(colon + 1)),
        expiresAt: data.expiresAt,
      };
    },
  };
}

// What an operator reads, per kind of failure: AWS's status and error name, and the fix. Short:
// the host prints at most 200 characters of it (src/common/printable.ts). AWS's own message,
// which may name the server's identity, goes to the service log only.
function ecrFailure(what: string, target: { account: string; region: string }, error: unknown): VendorFailure {
  const err = error as {
    name?: string;
    message?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
    cause?: { code?: string };
  };
  const status = err.$metadata?.httpStatusCode;
  const name = err.name ?? 'Error';
  const fail = (outcome: VendorOutcome, text: string) => {
    const retryAfterSeconds = retryAfterFor(outcome);
    const logDetail = `GetAuthorizationToken for account ${target.account} in ${target.region}${err.message ? `: ${err.message}` : ''}`;
    return new VendorFailure(outcome, `${what}: ${text}`, {
      logDetail,
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    });
  };
  if (name === 'CredentialsProviderError' || name === 'ProviderError') {
    return fail(
      'no_credentials',
      'no AWS credentials on the server; give it an identity allowed ecr:GetAuthorizationToken',
    );
  }
  if (status === undefined) {
    const code = err.code ?? err.cause?.code ?? (name === 'TimeoutError' ? 'timeout' : name);
    return fail(
      'unreachable',
      `the ECR API was not reached (${code}); ${code === 'ENOTFOUND' ? `check region ${target.region}` : 'retry later'}`,
    );
  }
  const answered = `AWS answered HTTP ${status} ${name}`;
  if (status === 429 || /Throttl|TooManyRequests|RequestLimitExceeded/.test(name))
    return fail('throttled', `${answered}: throttled; retry shortly`);
  if (status >= 500) return fail('vendor_error', `${answered}; retry later`);
  if (/Signature|UnrecognizedClient|InvalidClientToken|ExpiredToken/.test(name))
    return fail('denied', `${answered}: the server's AWS keys are not accepted; check them`);
  if (status === 403) return fail('denied', `${answered}; grant the server's identity ecr:GetAuthorizationToken`);
  return fail('bad_request', `${answered}; check account ${target.account} and region ${target.region}`);
}
