import { CodedError } from '../../common/errors.ts';
import { makeDirectory } from '../../common/make-directory.ts';

// Creates the data directory (0700) if needed; one line naming --data-dir when it cannot be.
export async function ensureDataDir(dataDir: string): Promise<void> {
  try {
    await makeDirectory(dataDir, 0o700);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new CodedError(
      'config_invalid',
      `--data-dir (or DSTACK_REGISTRY_AUTH_DATA_DIR): cannot create the data directory ${dataDir} (${code}); choose a directory this user can create and write`,
    );
  }
}
