import { CodedError } from '../../common/errors.ts';
import { isServiceErrorCode } from '../../contract/error-codes.ts';
import { printable } from '../../common/printable.ts';

// `404 not_found`: the service has no credential for the request. `reason` is the service's
// own message, e.g. why a brokered registry answers only repository-scoped requests.
export class NoCredentialError extends CodedError {
  readonly reason: string | undefined;
  constructor(message: string, reason: string | undefined) {
    super('not_found', message);
    this.reason = reason;
  }
}

export interface ErrorContext {
  server: string;
  tokenFile: string;
  // The bearer is a Kubernetes service-account token, which the kubelet renews, not an instance token.
  serviceAccount?: true;
  registryKey?: string;
  attempts?: number;
}

// Turns a non-2xx answer into the one-line message the user sees: the cause, the server,
// and what to do. The server's own message is quoted only where it adds detail; it never
// carries a secret (contract), and it is foreign text all the same: printable, one short line.
export function errorFromResponse(status: number, body: string, context: ErrorContext): CodedError {
  const parsed = parseErrorBody(body);
  if (status === 404 && parsed.code === undefined) {
    return new CodedError(
      'bad_response',
      `${context.server} answered HTTP 404 without a dstack error: it does not look like a dstack-registry-auth server; check DOCKER_CREDENTIAL_DSTACK_SERVER`,
    );
  }
  const code = parsed.code ?? codeForStatus(status);
  const detail = parsed.message ? `: ${parsed.message}` : '';
  const server = context.server;
  const registry = context.registryKey ?? 'this request';
  const tries = context.attempts !== undefined && context.attempts > 1 ? ` after ${context.attempts} attempts` : '';
  const newToken = `ask the dstack server for a new instance token and write it to ${context.tokenFile}`;
  // The service's message names the cause and the remedy (unmapped namespace, audience, issuer).
  if (context.serviceAccount && (code.startsWith('token_') || code === 'forbidden')) {
    const fix = detail ? '' : "; check the token's audience and the dstack server's kubernetes settings";
    return new CodedError(
      code,
      `service-account token (${context.tokenFile}) refused by ${server} (${code})${detail}${fix}`,
    );
  }
  switch (code) {
    case 'not_found':
      return new NoCredentialError(`dstack server ${server} has no credential for ${registry}`, parsed.message);
    case 'token_missing':
      return new CodedError(
        code,
        `instance token missing: dstack server ${server} received no instance token; write one to ${context.tokenFile}`,
      );
    case 'token_invalid':
      return new CodedError(code, `instance token rejected by ${server} (invalid token)${detail}; ${newToken}`);
    case 'token_expired':
      return new CodedError(code, `instance token expired (rejected by ${server}): ${newToken}`);
    case 'token_revoked':
      return new CodedError(code, `instance token revoked by ${server}: ${newToken}`);
    case 'forbidden':
      return new CodedError(
        code,
        `registry ${registry} is not allowed for this instance's project by ${server}${detail}`,
      );
    case 'bad_request':
    case 'payload_too_large':
      return new CodedError(
        code,
        `dstack server ${server} rejected the request for ${registry} (HTTP ${status})${detail}`,
      );
    case 'rate_limited':
      return new CodedError(
        code,
        `dstack server ${server} is rate limiting credential requests (HTTP 429${tries}): try again shortly`,
      );
    case 'unavailable':
      return new CodedError(code, `dstack server ${server} is unavailable (HTTP ${status}${tries})${detail}`);
    case 'internal':
      return new CodedError(
        code,
        `dstack server ${server} failed with HTTP ${status} (internal error${tries})${detail}`,
      );
    default:
      return new CodedError(code, `dstack server ${server} answered HTTP ${status} (${code}${tries})${detail}`);
  }
}

function codeForStatus(status: number): string {
  if (status === 404) return 'not_found';
  if (status === 401) return 'token_invalid';
  if (status === 403) return 'forbidden';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'unavailable';
  if (status >= 500) return 'internal';
  return status >= 400 ? 'bad_request' : 'bad_response';
}

function parseErrorBody(body: string): { code?: string; message?: string } {
  try {
    const value = JSON.parse(body) as Record<string, unknown>;
    const code = isServiceErrorCode(value.error) ? value.error : undefined;
    const message = typeof value.message === 'string' ? printable(value.message).trim() : undefined;
    return { code, message: message || undefined };
  } catch {
    return {};
  }
}
