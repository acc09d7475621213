import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { CodedError, oneLine } from '../../../common/errors.ts';

// The PEM files of --tls-cert/--tls-key, checked to form a usable pair before listening.
export async function readTlsFiles(certFile: string, keyFile: string): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (file: string, flag: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (error) {
      throw new CodedError(
        'usage',
        `${flag} ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? oneLine(error)}); make it readable by this user, or make one with docker-credential-dstack mirror-cert`,
      );
    }
  };
  const cert = await read(certFile, '--tls-cert');
  const key = await read(keyFile, '--tls-key');
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    // The message names the problem (no PEM, key mismatch), never the key's bytes.
    throw new CodedError(
      'usage',
      `--tls-cert ${certFile} / --tls-key ${keyFile}: not a usable PEM certificate and matching key (${oneLine(error).slice(0, 120)})`,
    );
  }
  return { cert, key };
}
