import { isCodedError, oneLine } from '../../../common/errors.ts';
import { isHostNotConfigured, isRefused, isServiceUnreachable } from '../../../contract/error-codes.ts';
import { MirrorError } from '../upstream/registry-error.ts';
import type { Upstream } from '../upstream/upstream.ts';

// A failure while getting what to authenticate a pull with, as the engine hears it: the
// registry error JSON with the cause in words (the messages never carry a secret). The service
// refused this host: 403; it could not answer (the failure policy and a cached credential did
// not help) or this host cannot ask it: 503.
export function credentialFailure(error: unknown, upstream: Upstream): MirrorError {
  const text = oneLine(error);
  if (error instanceof MirrorError) return error;
  if (!isCodedError(error))
    return new MirrorError(
      500,
      'UNAVAILABLE',
      'internal',
      `getting a credential for ${upstream.registry} failed: ${text}`,
    );
  if (isRefused(error))
    return new MirrorError(
      403,
      'DENIED',
      'credential_refused',
      `the dstack server refused a credential for ${upstream.registry}: ${text}`,
    );
  if (isServiceUnreachable(error) || isHostNotConfigured(error))
    return new MirrorError(
      503,
      'UNAVAILABLE',
      'service_unreachable',
      `no credential for ${upstream.registry}: ${text}`,
    );
  if (error.code === 'credential_refused')
    return new MirrorError(
      403,
      'DENIED',
      'upstream_401',
      `upstream ${upstream.url}: ${text}; check the password or token the dstack server holds for ${upstream.registry}`,
    );
  if (error.code === 'realm_unbound')
    return new MirrorError(502, 'UNAVAILABLE', 'realm_unbound', `upstream ${upstream.url}: ${text}`);
  if (error.code === 'realm_failed')
    return new MirrorError(502, 'UNAVAILABLE', 'upstream_realm', `upstream ${upstream.url}: ${text}`);
  if (error.code.startsWith('upstream_'))
    return new MirrorError(
      502,
      'UNAVAILABLE',
      error.code === 'upstream_timeout' ? 'upstream_timeout' : 'upstream_unreachable',
      `upstream ${upstream.url}: ${text}`,
    );
  return new MirrorError(503, 'UNAVAILABLE', 'service_unreachable', `no credential for ${upstream.registry}: ${text}`);
}
