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
import { requestRegistryToken } from './realm-token.ts';
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
}

// The `broker` credential source: the service keeps the registry password and trades it at the
// registry's own realm for a token that pulls one repository for minutes; hosts get only that.
export function createBrokerSource(deps: BrokerSourceDeps): BrokerSource {
  const realms = createRealmDirectory(deps.registries, deps.log, deps.discoveryPolicy);
  const cache = createTokenCache<Secret>();
  const prefersPost = new Set<string>();

  const fetchToken = async (entry: RegistryEntry, repository: string): Promise<CachedToken<Secret>> => {
    const account = entry.broker!;
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
        `registry ${entry.key} (source broker): token request for repository ${repository} failed: ${result.why}${hint}`,
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
    return {
      value: new Secret(result.answer.token),
      expiresAt: result.answer.expiresAt,
      lifetimeSeconds: result.answer.lifetimeSeconds,
    };
  };

  return {
    kind: 'broker',
    discover: () => realms.discoverAll(),
    async issue(request: CredentialRequest): Promise<IssuedCredential> {
      const entry = request.registry;
      if (!entry.broker) throw new Error(`registry ${entry.key} has source broker but no account`);
      const repository = request.repository;
      if (repository === undefined) {
        throw new CodedError(
          'not_found',
          `registry ${request.requestedKey} uses the broker source, which issues pull tokens for one repository at a time: send "repository" (the host-local mirror endpoint and auth-header do); the credential-helper protocol (get) cannot carry one`,
        );
      }
      const { value, result } = await cache.get(`${entry.key}\n${repository}`, request.now, () =>
        fetchToken(entry, repository),
      );
      deps.metrics.increment('dstack_registry_auth_broker_token_cache_total', { registry: entry.key, result });
      return { kind: 'bearer', repository, token: value.value, expiresAt: value.expiresAt };
    },
  };
}
