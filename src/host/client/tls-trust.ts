import { getCACertificates } from 'node:tls';
import { CodedError } from '../../common/errors.ts';
import { formatBytes, readRegularFile } from '../../common/read-regular-file.ts';

// What the host's HTTP clients (to the dstack server, to upstream registries) trust and how
// they name a TLS failure: one CA reader and one TLS word list for both.

// A system bundle is a few hundred KiB; CA bundles are commonly links, so links are followed.
export const MAX_CA_BUNDLE_BYTES = 8 * 1024 * 1024;

// The system store plus the operator's bundle, or undefined (Node's default store) without one.
// The bundle is read capped and FIFO-safe (readRegularFile): a FIFO or a device named as the
// CA file is refused at once instead of blocking the process on a sync read.
export function trustedCas(caFile: string | undefined): string[] | undefined {
  return caFile === undefined ? undefined : [...getCACertificates('default'), readCaBundle(caFile)];
}

export function readCaBundle(path: string): string {
  const read = readRegularFile(path, { maxBytes: MAX_CA_BUNDLE_BYTES, followLinks: true });
  if (read.kind === 'file') return read.text;
  const why =
    read.kind === 'missing'
      ? 'ENOENT'
      : read.kind === 'unreadable'
        ? read.code
        : read.kind === 'not_regular'
          ? `${read.what}, not a regular file`
          : `larger than ${formatBytes(MAX_CA_BUNDLE_BYTES)}`;
  throw new CodedError('tls', `cannot read CA bundle ${path} (${why}): fix DOCKER_CREDENTIAL_DSTACK_CA_FILE`);
}

// Node's and OpenSSL's error codes for a failed handshake or an untrusted certificate
// (CERT_HAS_EXPIRED, DEPTH_ZERO_SELF_SIGNED_CERT, UNABLE_TO_VERIFY_LEAF_SIGNATURE,
// ERR_TLS_CERT_ALTNAME_INVALID, ERR_SSL_…, ERR_OSSL_…).
const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO|HOSTNAME|ERR_OSSL/;

export function isTlsErrorCode(code: string | undefined): boolean {
  return code !== undefined && TLS_CODES.test(code);
}

// The one TLS wording: what failed, Node's code, and the setting that fixes an unknown CA.
export function tlsFailureText(what: string, code: string): string {
  return `TLS ${what} failed (${code}): set DOCKER_CREDENTIAL_DSTACK_CA_FILE to the CA bundle that signed its certificate`;
}
