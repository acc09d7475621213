import { join } from 'node:path';
import { CodedError } from '../../common/errors.ts';
import type { RevocationStore } from '../core/ports.ts';
import { openPostgresRevocationStore } from './postgres-revocation-store.ts';
import { printable } from '../../common/printable.ts';
import { redactUrl } from '../../common/redact-url.ts';
import { openSqliteRevocationStore, type SqliteStoreOptions } from './sqlite-revocation-store.ts';
import { isPostgresUrl } from './database-url.ts';

// Revocations live in `<dataDir>/revocations.sqlite` unless a PostgreSQL URL is configured
// (needed when several replicas run on different hosts).
// `embedded`: how the SQLite file is opened (sqlite-revocation-store.ts): serve adopts a
// restored file, revoke refuses one.
export async function openRevocationStore(options: {
  dataDir: string;
  databaseUrl?: string;
  embedded?: SqliteStoreOptions;
}): Promise<RevocationStore> {
  const url = options.databaseUrl?.trim();
  if (!url)
    return openSqliteRevocationStore(join(options.dataDir, 'revocations.sqlite'), options.dataDir, options.embedded);
  if (isPostgresUrl(url)) return openPostgresRevocationStore(url);
  throw new CodedError(
    'config_invalid',
    `database URL ${printable(redactUrl(url))} is not a postgres:// or postgresql:// URL; fix DSTACK_REGISTRY_AUTH_DATABASE_URL (databaseUrl in the config file) or unset it to use the embedded store`,
  );
}
