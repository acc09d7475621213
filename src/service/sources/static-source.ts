import type { CredentialSource } from '../core/ports.ts';
import { CodedError } from '../../common/errors.ts';

// The configured username/password, handed out only to authenticated instances at pull time.
// The secret itself is long-lived; `expiresAt` only tells the helper how long to cache it.
export function createStaticSource(): CredentialSource {
  return {
    kind: 'static',
    async issue({ registry, now }) {
      const configured = registry.static;
      if (!configured)
        throw new CodedError('not_found', `no credential is configured for ${registry.key}; pull anonymously`);
      return {
        kind: 'basic',
        username: configured.username,
        secret: configured.password,
        expiresAt: new Date(now.getTime() + configured.ttlSeconds * 1000),
      };
    },
  };
}
