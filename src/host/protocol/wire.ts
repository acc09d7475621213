// The exact strings of the docker-credential-helpers protocol. Docker and the other clients
// match some of them literally, so they live here once.

// Printed (stdout, exit 1) when there is no credential: clients then go on anonymously.
export const CREDENTIALS_NOT_FOUND = 'credentials not found in native keychain';

// Printed when `get` or `erase` receives no server URL on stdin.
export const MISSING_SERVER_URL = 'no credentials server URL';

// The only arguments the protocol knows.
export const PROTOCOL_ACTIONS = ['get', 'store', 'erase', 'list', 'version'] as const;
export type ProtocolAction = (typeof PROTOCOL_ACTIONS)[number];

export function isProtocolAction(value: string): value is ProtocolAction {
  return (PROTOCOL_ACTIONS as readonly string[]).includes(value);
}
