import { CodedError } from '../../common/errors.ts';
import { formatBytes, readRegularFile } from '../../common/read-regular-file.ts';
import { Secret } from '../../common/secret.ts';

// An instance token is a few hundred bytes (a compact JWS); 8 KiB is generous and still fits
// an HTTP header, so anything larger is the wrong file, refused before it is sent.
export const MAX_INSTANCE_TOKEN_BYTES = 8 * 1024;

const POINT_AT_FILE = 'point DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE ("tokenFile") at the token file itself';

// The instance token authenticates this host to the server; it is read per request (only
// on a cache miss), so a rotated token file takes effect at once. Only a regular file is
// read (a FIFO would hang the pull, a link may point anywhere), and only up to the cap.
export function readInstanceToken(path: string, warn: (msg: string) => void = () => {}): Secret {
  const read = readRegularFile(path, { maxBytes: MAX_INSTANCE_TOKEN_BYTES });
  switch (read.kind) {
    case 'missing':
      throw new CodedError(
        'token_missing',
        `instance token file ${path} does not exist: write the instance token from the dstack server there (or set DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE)`,
      );
    case 'unreadable':
      if (read.code === 'EACCES')
        throw new CodedError(
          'token_missing',
          `instance token file ${path} is not readable by this user: run as root or fix its permissions`,
        );
      throw new CodedError('token_missing', `cannot read instance token file ${path} (${read.code})`);
    case 'not_regular':
      if (read.what === 'a directory')
        throw new CodedError(
          'token_missing',
          `instance token file ${path} is a directory, not a regular file: ${POINT_AT_FILE}`,
        );
      if (read.what === 'a symbolic link')
        throw new CodedError(
          'token_missing',
          `instance token file ${path} is a symbolic link, which the helper does not follow: ${POINT_AT_FILE}`,
        );
      throw new CodedError(
        'token_missing',
        `instance token file ${path} is ${read.what}, not a regular file: write the instance token from the dstack server into a regular file (mode 0600)`,
      );
    case 'too_large':
      throw new CodedError(
        'token_malformed',
        `instance token file ${path} is larger than the ${formatBytes(MAX_INSTANCE_TOKEN_BYTES)} an instance token can be (${formatBytes(read.size)}): write only the instance token from the dstack server there`,
      );
  }
  const token = read.text.trim();
  if (token === '')
    throw new CodedError(
      'token_missing',
      `instance token file ${path} is empty: write the instance token from the dstack server there`,
    );
  // An HTTP header cannot carry it otherwise; the token itself is never quoted.
  if (!/^[\x21-\x7e]+$/.test(token))
    throw new CodedError(
      'token_malformed',
      `instance token file ${path} holds more than one token, white space or non-ASCII characters: write only the instance token from the dstack server there`,
    );
  const mode = read.stats.mode & 0o777;
  if ((mode & 0o077) !== 0)
    warn(`instance token file ${path} is readable by group or others (mode ${mode.toString(8)}): chmod 600 ${path}`);
  return new Secret(token);
}
