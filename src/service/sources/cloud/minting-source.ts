import { performance } from 'node:perf_hooks';
import type {
  Clock,
  CloudSourceKind,
  CredentialRequest,
  CredentialSource,
  IssuedCredential,
  Metrics,
  RegistryEntry,
} from '../../core/ports.ts';
import type { Secret } from '../../../common/secret.ts';
import { MINT_DEADLINE_MS, retryAfterFor, VendorFailure } from '../../core/vendor-failure.ts';
import { withDeadline } from '../../../common/deadline.ts';
import { oneLine } from '../../../common/errors.ts';
import { createTokenCache } from '../token-cache.ts';

// A registry credential a vendor minted; `expiresAt` is on the wall clock (the vendor's answer).
export interface MintedCredential {
  username: string;
  secret: Secret;
  expiresAt: Date;
}

// One vendor's way of minting: which credentials are the same (`scope`), and the call itself,
// which throws a VendorFailure for every answer that is not a credential.
export interface Minter {
  scope(entry: RegistryEntry): string;
  mint(entry: RegistryEntry): Promise<MintedCredential>;
}

export interface CloudSource extends CredentialSource {
  // `check`: mints now, past the cache, and says until when the credential lives.
  check(entry: RegistryEntry): Promise<{ expiresAt: Date; username: string }>;
}

export interface MintingSourceDeps {
  kind: CloudSourceKind;
  // Loads the vendor's SDK (a dynamic import) at the first credential, not at start-up.
  loadMinter: () => Promise<Minter>;
  clock: Clock;
  metrics: Metrics;
  log: (line: string) => void;
  // The wall clock the vendor's expiry is read against; tests of the cache move `clock` only.
  wallClock?: () => number;
}

// Minted credentials are kept to half their life, one mint at a time per scope (single flight),
// as the vendors' own helpers do: a host that gets one near the end of the cached half still
// has half a life (ECR: 6 of 12 hours) to pull with.
const KEEP_WHILE_LEFT = 1 / 2;

// A vendor's refusal is answered again for this long without asking the vendor: the helper
// retries a 503 within its own few seconds, and a fleet of hosts would otherwise multiply every
// throttled call to the vendor.
export const FAILURE_HOLD_MS = 5_000;

// A cloud source (ecr, gar): the service mints a short registry credential with the cloud
// identity it holds and hands out only that, with the minted credential's own expiry.
export function createMintingSource(deps: MintingSourceDeps): CloudSource {
  const cache = createTokenCache<{ username: string; secret: Secret }>(undefined, KEEP_WHILE_LEFT);
  const failures = new Map<string, { error: VendorFailure; until: number }>();
  const wallClock = deps.wallClock ?? Date.now;
  let minter: Promise<Minter> | undefined;
  const loaded = () =>
    (minter ??= deps.loadMinter().catch((error: unknown) => {
      minter = undefined;
      throw error;
    }));

  const mint = async (entry: RegistryEntry) => {
    const started = performance.now();
    const labels = { source: deps.kind, registry: entry.key };
    try {
      const minted = await withMintDeadline((async () => (await loaded()).mint(entry))(), entry, deps.kind);
      deps.metrics.increment('dstack_registry_auth_cloud_token_requests_total', { ...labels, outcome: 'minted' });
      return minted;
    } catch (error) {
      const outcome = error instanceof VendorFailure ? error.outcome : 'vendor_error';
      deps.metrics.increment('dstack_registry_auth_cloud_token_requests_total', { ...labels, outcome });
      if (error instanceof VendorFailure) {
        deps.log(
          `${oneLine(error)}${error.options.logDetail ? ` (vendor said: ${oneLine(error.options.logDetail).slice(0, 300)})` : ''}`,
        );
        throw error;
      }
      // An SDK that broke in a way the minter did not foresee: a line for the host, the rest for the log.
      deps.log(`registry ${entry.key} (source ${deps.kind}): minting failed: ${oneLine(error)}`);
      throw new VendorFailure(
        'vendor_error',
        `registry ${entry.key} (source ${deps.kind}): the service could not mint a credential; the service log has the cause`,
      );
    } finally {
      deps.metrics.observe(
        'dstack_registry_auth_cloud_token_request_duration_seconds',
        (performance.now() - started) / 1000,
        labels,
      );
    }
  };

  return {
    kind: deps.kind,
    async issue(request: CredentialRequest): Promise<IssuedCredential> {
      const entry = request.registry;
      const scope = (await loaded()).scope(entry);
      const { value, result } = await cache.get(scope, request.now, async () => {
        const requestedAt = deps.clock();
        const held = failures.get(scope);
        if (held && requestedAt.getTime() < held.until) {
          deps.metrics.increment('dstack_registry_auth_cloud_token_cache_total', {
            source: deps.kind,
            registry: entry.key,
            result: 'failure_held',
          });
          throw held.error;
        }
        let minted: MintedCredential;
        try {
          minted = await mint(entry);
          failures.delete(scope);
        } catch (error) {
          if (error instanceof VendorFailure)
            failures.set(scope, { error, until: requestedAt.getTime() + FAILURE_HOLD_MS });
          throw error;
        }
        // The vendor's lifetime, carried onto the service's clock.
        const lifetimeMs = minted.expiresAt.getTime() - wallClock();
        if (!(lifetimeMs > 0))
          throw new VendorFailure(
            'bad_answer',
            `registry ${entry.key} (source ${deps.kind}): the vendor answered with a credential that has already expired; check the server's clock`,
          );
        return {
          value: { username: minted.username, secret: minted.secret },
          expiresAt: new Date(requestedAt.getTime() + lifetimeMs),
          lifetimeSeconds: lifetimeMs / 1000,
        };
      });
      deps.metrics.increment('dstack_registry_auth_cloud_token_cache_total', {
        source: deps.kind,
        registry: entry.key,
        result,
      });
      return { kind: 'basic', username: value.value.username, secret: value.value.secret, expiresAt: value.expiresAt };
    },
    async check(entry) {
      const minted = await mint(entry);
      return { expiresAt: minted.expiresAt, username: minted.username };
    },
  };
}

// A mint that has not settled by MINT_DEADLINE_MS fails as unreachable (the call itself may go
// on in the SDK; its late answer is dropped).
function withMintDeadline<T>(minting: Promise<T>, entry: RegistryEntry, kind: string): Promise<T> {
  return withDeadline(
    minting,
    MINT_DEADLINE_MS,
    () =>
      new VendorFailure(
        'unreachable',
        `registry ${entry.key} (source ${kind}): the cloud's API did not answer within ${MINT_DEADLINE_MS / 1000} s; check the service host's route to it`,
        { retryAfterSeconds: retryAfterFor('unreachable') },
      ),
  );
}
