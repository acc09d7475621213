import { CodedError, oneLine } from '../../common/errors.ts';
import type { CredentialStore, Credentials } from './credential-store.ts';
import type { ProtocolIo } from './protocol-io.ts';
import { CREDENTIALS_NOT_FOUND, MISSING_SERVER_URL } from './wire.ts';
import { Secret } from '../../common/secret.ts';
import { printable } from '../../common/printable.ts';

// Runs one protocol action against a store, exactly as docker-credential-helpers does:
// answers on stdout; any failure is ONE line on stdout and exit status 1, because that is
// where Docker reads it. Returns the exit status; never throws.
export async function serveAction(
  action: string,
  store: CredentialStore,
  io: ProtocolIo,
  version: string,
): Promise<number> {
  try {
    switch (action) {
      case 'get':
        return await get(store, io);
      case 'store':
        await store.store(parseStoreInput(await io.readInput()));
        return 0;
      case 'erase':
        await store.erase(serverUrlFrom(await io.readInput()));
        return 0;
      case 'list':
        await io.write(`${JSON.stringify(await store.list())}\n`);
        return 0;
      case 'version':
        await io.write(`docker-credential-dstack ${version}\n`);
        return 0;
      default:
        await io.write(`unknown credential action \`${printable(action, 40)}\`\n`);
        return 1;
    }
  } catch (error) {
    await io.write(`${oneLine(error)}\n`).catch(() => {});
    return 1;
  }
}

async function get(store: CredentialStore, io: ProtocolIo): Promise<number> {
  const credentials = await store.get(serverUrlFrom(await io.readInput()));
  if (!credentials) {
    await io.write(`${CREDENTIALS_NOT_FOUND}\n`);
    return 1;
  }
  const answer = {
    ServerURL: credentials.ServerURL,
    Username: credentials.Username,
    Secret: credentials.Secret.reveal(),
  };
  await io.write(`${JSON.stringify(answer)}\n`);
  return 0;
}

// `get` and `erase` read a bare server URL: surrounding white space (CRLF too) is dropped.
export function serverUrlFrom(input: string): string {
  const serverUrl = input.trim();
  if (serverUrl === '') throw new ProtocolInputError(MISSING_SERVER_URL);
  return serverUrl;
}

// `store` reads {"ServerURL","Username","Secret"}; validated like the Go helpers do.
export function parseStoreInput(input: string): Credentials {
  let value: unknown;
  try {
    value = JSON.parse(input);
  } catch {
    throw new ProtocolInputError('invalid credentials JSON on stdin: expected {"ServerURL","Username","Secret"}');
  }
  const record = (value ?? {}) as Record<string, unknown>;
  const serverUrl = typeof record.ServerURL === 'string' ? record.ServerURL.trim() : '';
  if (serverUrl === '') throw new ProtocolInputError(MISSING_SERVER_URL);
  const username = typeof record.Username === 'string' ? record.Username : '';
  const secret = typeof record.Secret === 'string' ? record.Secret : '';
  return { ServerURL: serverUrl, Username: username, Secret: new Secret(secret) };
}

// Malformed protocol input: the message is the protocol's own wording, printed as is.
export class ProtocolInputError extends CodedError {
  constructor(message: string) {
    super('protocol_input', message);
    this.name = 'ProtocolInputError';
  }
}
