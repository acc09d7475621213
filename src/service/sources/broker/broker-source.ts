import { performance } from 'node:perf_hooks';
import type {
  Clock,
  CredentialRequest,
  CredentialSource,
  IssuedCredential,
  Metrics,
  RegistryEntry,
} from '../../core/ports.ts';
import { Secret } from '../../../common/secret.ts';
import { CodedError } from '../../../common/errors.ts';
import { createRealmDirectory } from './realm-directory.ts';
import { requestRegistryToken, type RealmAccount } from './realm-token.ts';
import { createTokenCache, type CachedToken } from '../token-cache.ts';
import type { RetryPolicy } from './upstream-request.ts';

export interface BrokerSource extends CredentialSource {
  // Start-up: each brokered registry's token challenge. Throws a config_invalid CodedError for
  // a registry that cannot be brokered; logs a warning for one that does not answer.
  discover(): Promise<void>;
}

export interface BrokerSourceDeps {
  registries: RegistryEntry[];
  clock: Clock;
  metrics: Metrics;
  log: (line: string) => void;
  // Tests shorten these; the service uses the defaults of upstream-request.ts.
  discoveryPolicy?: RetryPolicy;
  tokenPolicy?: RetryPolicy;
  // Whose trade this is, for messages: `broker` (a configured password), or a cloud source
  // whose minted credential is traded the same way (acr with tokens: repository).
  kind?: 'broker' | 'acr';
  // The account traded at the realm for a request, and until when it holds (a minted one
  // expires; a repository token never outlives it). Default: the entry's broker account.
  accountOf?: (request: CredentialRequest) => Promise<RealmAccount & { expiresAt?: Date }>;
}

// The `broker` credential source: the service keeps the registry password and trades it at the
// registry's own realm for a token that pulls one repository for minutes; hosts get only that.
export function createBrokerSource(deps: BrokerSourceDeps): BrokerSource {
  const realms = createRealmDirectory(deps.registries, deps.log, deps.discoveryPolicy);
  const cache = createTokenCache<Secret>();
  const prefersPost = new Set<string>();

  const kind = deps.kind ?? 'broker';
  const accountOf =
    deps.accountOf ??
    (async (request: CredentialRequest) => {
      if (!request.registry.broker)
        throw new Error(`registry ${request.registry.key} has source broker but no account`);
      return request.registry.broker;
    });

  const fetchToken = async (
    entry: RegistryEntry,
    repository: string,
    account: RealmAccount & { expiresAt?: Date },
  ): Promise<CachedToken<Secret>> => {
    const realm = await realms.realmOf(entry);
    const started = performance.now();
    const result = await requestRegistryToken(realm, account, repository, {
      now: deps.clock,
      prefersPost,
      ...(deps.tokenPolicy ? { policy: deps.tokenPolicy } : {}),
    });
    deps.metrics.observe(
      'dstack_registry_auth_broker_token_request_duration_seconds',
      (performance.now() - started) / 1000,
      { registry: entry.key },
    );
    const outcome = !result.ok ? result.kind : result.answer.grantsPull ? 'granted' : 'no_pull';
    deps.metrics.increment('dstack_registry_auth_broker_token_requests_total', { registry: entry.key, outcome });
    if (!result.ok) {
      const hint =
        result.kind === 'refused'
          ? `; the realm refused account ${account.username}: check its password or access token`
          : '';
      throw new CodedError(
        'unavailable',
        `registry ${entry.key} (source ${kind}): token request for repository ${repository} failed: ${result.why}${hint}`,
      );
    }
    if (!result.answer.grantsPull) {
      deps.log(
        `broker: the token realm of registry ${entry.key} granted account ${account.username} no pull access to repository ${repository}; answering not_found`,
      );
      throw new CodedError(
        'not_found',
        `the token realm of registry ${entry.key} granted the service's account no pull access to repository ${repository}; check the repository name, or ask the operator about the account's permissions`,
      );
    }
    // A token is kept no longer than the account it was traded with (a minted one expires).
    const expiresAt =
      account.expiresAt && account.expiresAt < result.answer.expiresAt ? account.expiresAt : result.answer.expiresAt;
    return {
      value: new Secret(result.answer.token),
      expiresAt,
      lifetimeSeconds: Math.min(result.answer.lifetimeSeconds, (expiresAt.getTime() - deps.clock().getTime()) / 1000),
    };
  };

  return {
    kind: 'broker',
    discover: () => realms.discoverAll(),
    async issue(request: CredentialRequest): Promise<IssuedCredential> {
      const entry = request.registry;
      const repository = request.repository;
      if (repository === undefined) {
        throw new CodedError(
          'not_found',
          `registry ${request.requestedKey} uses ${kind === 'broker' ? 'the broker source' : `source ${kind} with tokens: repository`}, which issues pull tokens for one repository at a time: send "repository" (the host-local mirror endpoint and auth-header do); the credential-helper protocol (get) cannot carry one`,
        );
      }
      const { value, result } = await cache.get(`${entry.key}\n${repository}`, request.now, async () =>
        fetchToken(entry, repository, await accountOf(request)),
      );
      deps.metrics.increment('dstack_registry_auth_broker_token_cache_total', { registry: entry.key, result });
      return { kind: 'bearer', repository, token: value.value, expiresAt: value.expiresAt };
    },
  };
}
