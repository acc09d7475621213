// Every code a CodedError carries in this tree, in one list: tests, the HTTP mapping, exit
// statuses and the few decisions that depend on a failure's kind (src/contract/error-codes.ts:
// isServiceUnreachable, isRefused) read a code, never a message. test/common/error-code.test.ts
// fails when a `new CodedError('…'` in src names a code missing here.
export const KNOWN_ERROR_CODES = [
  // The service's answers (src/contract/error-codes.ts gives each its HTTP status).
  'bad_request',
  'token_missing',
  'token_invalid',
  'token_expired',
  'token_revoked',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'payload_too_large',
  'internal',
  'unavailable',
  // Talking to the service (host); rate_limited: a 429 from a proxy in front of it.
  'rate_limited',
  'unreachable',
  'timeout',
  'tls',
  'bad_response',
  'server_url_invalid',
  'token_malformed',
  // The service's own work.
  'token_wrong_service',
  'store_unavailable',
  'store_refused',
  'store_replaced',
  'realm_failed',
  'registry_unknown',
  'registry_not_issuer',
  'audit_log_unavailable',
  'key_file_missing',
  'key_file_unreadable',
  'key_file_invalid',
  'key_file_permissions',
  'listen_failed',
  // Configuration and settings (both halves).
  'usage',
  'config_invalid',
  'config_unreadable',
  'config_unsupported',
  'config_not_file',
  'config_symlink_dangling',
  'config_changed',
  'config_conflict',
  'not_configured',
  'registry_key_invalid',
  'registry_key_empty',
  'mirror_invalid',
  'image_invalid',
  'input_too_large',
  'protocol_input',
  // The host's files: the credential cache, engine files, the write journal.
  'cache_unsafe',
  'cache_unwritable',
  'write_failed',
  'state_invalid',
  'state_unreadable',
  'state_unwritable',
  'setup_busy',
  'interrupted_run_conflict',
  'daemon_json_invalid',
  'dockerd_mirror_flag',
  'dockerd_not_found',
  'docker_missing',
  'docker_info_failed',
  'reload_failed',
  'certificate_invalid',
  'certificate_unwritable',
  // The endpoint and its upstreams.
  'upstream_invalid',
  'upstream_unreachable',
  'upstream_timeout',
  'upstream_tls',
  'upstream_failed',
  'credential_refused',
  'realm_unbound',
  // The kubelet's credential provider (src/host/kubelet/).
  'request_invalid',
  'unsupported',
] as const;

export type KnownErrorCode = (typeof KNOWN_ERROR_CODES)[number];

// Open on purpose: a code added on another branch still type-checks (`string & {}` keeps the
// known codes' completion), and the test above asks for it to be listed here.
export type ErrorCode = KnownErrorCode | (string & {});

const KNOWN = new Set<string>(KNOWN_ERROR_CODES);

export function isKnownErrorCode(value: unknown): value is KnownErrorCode {
  return typeof value === 'string' && KNOWN.has(value);
}
