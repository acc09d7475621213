import { readFileSync, statSync } from 'node:fs';
import { CodedError } from '../../common/errors.ts';
import { Secret } from '../../common/secret.ts';

// The instance token authenticates this host to the server; it is read per request (only
// on a cache miss), so a rotated token file takes effect at once.
export function readInstanceToken(path: string, warn: (msg: string) => void = () => {}): Secret {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CodedError('token_missing', `instance token file ${path} does not exist: write the instance token from the dstack server there (or set DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE)`);
    if (code === 'EACCES') throw new CodedError('token_missing', `instance token file ${path} is not readable by this user: run as root or fix its permissions`);
    throw new CodedError('token_missing', `cannot read instance token file ${path} (${code ?? 'error'})`);
  }
  const token = text.trim();
  if (token === '') throw new CodedError('token_missing', `instance token file ${path} is empty: write the instance token from the dstack server there`);
  // An HTTP header cannot carry it otherwise; the token itself is never quoted.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new CodedError('token_malformed', `instance token file ${path} holds more than one token, white space or non-ASCII characters: write only the instance token from the dstack server there`);
  try {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) warn(`instance token file ${path} is readable by group or others (mode ${mode.toString(8)}): chmod 600 ${path}`);
  } catch {
    // it was just read; a race here changes nothing
  }
  return new Secret(token);
}
