import { CodedError } from '../../../common/errors.ts';
import { parseChallenges } from '../../../registry/auth-challenges.ts';
import { checkRealm } from '../../../registry/token-realm.ts';
import { DISCOVERY_POLICY, upstreamRequest, UpstreamUnreachable, type RetryPolicy } from './upstream-request.ts';

// Where a registry sends clients for tokens: its challenge's realm URL and `service`.
export interface TokenRealm {
  realm: string;
  service?: string;
}

// The registry cannot be brokered whatever happens next (Basic auth, no challenge, not a
// registry): start-up stops with this one line, exit 2.
export class NotBrokerable extends CodedError {
  constructor(message: string) {
    super('config_invalid', message);
  }
}

// The registry did not answer usefully now (down, 5xx, timeout): worth asking again later.
export class DiscoveryFailed extends Error {
  constructor(readonly why: string) {
    super(why);
    this.name = 'DiscoveryFailed';
  }
}

const WHAT_TO_DO =
  "use source static (the password then reaches the runner hosts) or put the registry behind this service's issuer realm (docs/issuer.md)";

// `GET <upstream>/v2/` without credentials: a token-auth registry answers 401 with
// `WWW-Authenticate: Bearer realm=…,service=…`. `registry` names the registry in messages;
// `realms`, the realm hosts its configuration allows besides the upstream's own host.
export async function discoverRealm(
  registry: string,
  upstreamUrl: string,
  policy: RetryPolicy = DISCOVERY_POLICY,
  realms: readonly string[] = [],
): Promise<TokenRealm> {
  const probe = `${upstreamUrl}/v2/`;
  let response;
  try {
    response = await upstreamRequest(
      probe,
      () => ({ method: 'GET', headers: { 'user-agent': 'dstack-registry-auth' } }),
      policy,
    );
  } catch (error) {
    if (error instanceof UpstreamUnreachable)
      throw new DiscoveryFailed(
        `GET ${probe} failed (${error.why}, ${error.attempts} attempt${error.attempts === 1 ? '' : 's'})`,
      );
    throw error;
  }
  const prefix = `registry ${registry} (source broker): GET ${probe}`;
  if (response.status === 429 || response.status >= 500)
    throw new DiscoveryFailed(`GET ${probe} answered HTTP ${response.status}`);
  const challenges = parseChallenges(response.headers.get('www-authenticate') ?? '');
  const bearer = challenges.find((challenge) => challenge.scheme === 'bearer');
  if (response.status !== 401 || bearer === undefined) {
    if (response.status === 200 || response.status === 401) {
      const got =
        challenges.length > 0
          ? `asks for ${challenges.map((c) => c.scheme).join('/')} auth`
          : `answered HTTP ${response.status} without a token challenge`;
      throw new NotBrokerable(`${prefix} ${got}: there is no token realm to trade the password at; ${WHAT_TO_DO}`);
    }
    throw new NotBrokerable(
      `${prefix} answered HTTP ${response.status}: not a registry API; check the registry's upstream URL (upstream, or DSTACK_REGISTRY_AUTH_DEFAULT_UPSTREAM_URL)`,
    );
  }
  return {
    realm: checkRealmUrl(bearer.params.realm, prefix, new URL(upstreamUrl).host, realms),
    ...(bearer.params.service ? { service: bearer.params.service } : {}),
  };
}

// The password goes to this URL: the shared realm check (src/registry/token-realm.ts), and
// an answer from the registry's URL alone does not choose where the password goes; its query
// (if any) is kept and extended per request.
function checkRealmUrl(
  value: string | undefined,
  prefix: string,
  registryHost: string,
  realms: readonly string[],
): string {
  const checked = checkRealm(value, registryHost, realms);
  if (checked.ok) return checked.url.toString();
  const whatToDo =
    checked.problem === 'unbound'
      ? `if it is the registry's own realm, list ${checked.realmHost} in the registry's realms (the config file's realms, or DSTACK_REGISTRY_AUTH_DEFAULT_REALMS for the default registry)`
      : checked.problem === 'not_url' || checked.problem === 'credentials'
        ? "fix the registry's auth configuration"
        : `serve the realm over https, or ${WHAT_TO_DO}`;
  throw new NotBrokerable(`${prefix}: ${checked.why}; ${whatToDo}`);
}
