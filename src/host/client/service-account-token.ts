import { CodedError } from '../../common/errors.ts';
import { formatBytes, readRegularFile } from '../../common/read-regular-file.ts';
import { Secret } from '../../common/secret.ts';

// A projected service-account token is a JWS of one to a few KiB; 16 KiB leaves room for
// large claims and still fits an HTTP header.
export const MAX_SERVICE_ACCOUNT_TOKEN_BYTES = 16 * 1024;

const MOUNT =
  'mount a projected service-account token there (a serviceAccountToken volume source with the audience the dstack server expects), or fix DOCKER_CREDENTIAL_DSTACK_SERVICE_ACCOUNT_TOKEN_FILE ("serviceAccountTokenFile")';

// The kubelet writes a projected token through its atomic writer: the file is a symbolic link
// into a `..data` directory that it swaps when it rotates the token (at 80% of its life). So,
// unlike an instance token file, the link is followed, and the file is read each time a
// credential is asked of the service: a rotated token is used from the next request on.
export function readServiceAccountToken(path: string): Secret {
  const read = readRegularFile(path, { maxBytes: MAX_SERVICE_ACCOUNT_TOKEN_BYTES, followLinks: true });
  switch (read.kind) {
    case 'missing':
      throw new CodedError('token_missing', `service-account token file ${path} does not exist: ${MOUNT}`);
    case 'unreadable':
      throw new CodedError('token_missing', `cannot read service-account token file ${path} (${read.code}): ${MOUNT}`);
    case 'not_regular':
      throw new CodedError(
        'token_missing',
        `service-account token file ${path} is ${read.what}, not a regular file: ${MOUNT}`,
      );
    case 'too_large':
      throw new CodedError(
        'token_malformed',
        `service-account token file ${path} is larger than the ${formatBytes(MAX_SERVICE_ACCOUNT_TOKEN_BYTES)} a token can be (${formatBytes(read.size)}): ${MOUNT}`,
      );
  }
  const token = read.text.trim();
  if (token === '') throw new CodedError('token_missing', `service-account token file ${path} is empty: ${MOUNT}`);
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token))
    throw new CodedError('token_malformed', `service-account token file ${path} does not hold one JWT: ${MOUNT}`);
  return new Secret(token);
}
