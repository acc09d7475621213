import { CodedError } from '../../common/errors.ts';

// How a vendor's answer is counted (dstack_registry_auth_cloud_token_requests_total).
export type VendorOutcome =
  | 'no_credentials'
  | 'bad_request'
  | 'denied'
  | 'throttled'
  | 'vendor_error'
  | 'unreachable'
  | 'bad_answer';

// A cloud vendor's API refused or failed to mint a registry credential. The message names the
// registry, the vendor's answer (HTTP status and error name, never its body) and what the
// operator must do, and carries no secret and no path, so unlike other server-side failures it
// reaches the host as it is: the host's one line then says why the pull cannot authenticate.
// `logDetail` (the vendor's own message, which may name the server's identity) goes to the
// service log only. `retryAfterSeconds` is set only where asking again can help.
export class VendorFailure extends CodedError {
  constructor(
    readonly outcome: VendorOutcome,
    message: string,
    readonly options: { retryAfterSeconds?: number; logDetail?: string } = {},
  ) {
    super('unavailable', message);
    this.name = 'VendorFailure';
  }

  get retryAfterSeconds(): number | undefined {
    return this.options.retryAfterSeconds;
  }
}

// Throttling and vendor outages pass; a refusal or a missing identity needs the operator. One
// second: the helper gives a credential request 5 s in all (DOCKER_CREDENTIAL_DSTACK_TIMEOUT),
// and a longer wait would use it up before its next attempt.
export function retryAfterFor(outcome: VendorOutcome): number | undefined {
  return outcome === 'throttled' || outcome === 'vendor_error' || outcome === 'unreachable' ? 1 : undefined;
}

// Each vendor call, retries included, must end well inside the helper's 5 s: the SDKs retry at
// most once more, each attempt bounded by this.
export const VENDOR_ATTEMPT_TIMEOUT_MS = 2_000;

// A backstop on the whole of one mint, whatever the SDK does inside (a request timeout that
// only warns, a metadata server with no limit, a credential_process): past it the mint fails as
// unreachable, so single flight never waits on a hung call and every waiter gets an answer. The
// minters' own deadlines (VENDOR_ATTEMPT_TIMEOUT_MS per attempt) end a normal failure first,
// with their own words; the helper itself gives up after its 5 s and asks again later.
export const MINT_DEADLINE_MS = 8_000;
