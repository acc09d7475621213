import type { Pool } from 'pg';
import { CodedError } from '../../common/errors.ts';
import { redactUrl } from '../../common/redact-url.ts';
import type { RevocationStore } from '../core/ports.ts';

const TABLE = 'dstack_registry_auth_revocations';

// The store for several replicas: one PostgreSQL table, created if missing. Every replica
// reads it on each request, so a revocation written by any of them applies to all at once.
export async function openPostgresRevocationStore(url: string): Promise<RevocationStore> {
  const where = `PostgreSQL at ${redactUrl(url)}`;
  const pg = await import('pg');
  const PoolClass = pg.default?.Pool ?? pg.Pool;
  const pool = new PoolClass({
    connectionString: url,
    connectionTimeoutMillis: 5000,
    query_timeout: 5000,
    max: 10,
    idleTimeoutMillis: 30_000,
  });
  // Both timeouts bound how long a request waits on a stuck database before answering 503.
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  try {
    await createTable(pool);
  } catch (error) {
    await pool.end().catch(() => {});
    throw new CodedError(
      'store_unavailable',
      `cannot use the revocation store in ${where} (${reasonOf(error)}); check DSTACK_REGISTRY_AUTH_DATABASE_URL (databaseUrl in the config file) and that the server is reachable`,
    );
  }
  const query = async (text: string, values: unknown[]) => {
    try {
      return await pool.query(text, values);
    } catch (error) {
      throw new CodedError(
        'unavailable',
        `revocation store in ${where} is unavailable (${reasonOf(error)}); retry later`,
      );
    }
  };
  return {
    async revoke(instance, at) {
      await query(
        `INSERT INTO ${TABLE} (instance, revoked_at) VALUES ($1, $2) ` +
          `ON CONFLICT (instance) DO UPDATE SET revoked_at = GREATEST(${TABLE}.revoked_at, EXCLUDED.revoked_at)`,
        [instance, at],
      );
    },
    async revokedAt(instance) {
      const result = await query(`SELECT revoked_at FROM ${TABLE} WHERE instance = $1`, [instance]);
      const value = result.rows[0]?.revoked_at as Date | undefined;
      return value ? new Date(value.getTime()) : undefined;
    },
    async close() {
      await pool.end().catch(() => {});
    },
  };
}

// Replicas starting together would race on CREATE TABLE IF NOT EXISTS (a duplicate-key
// error in the catalog); a transaction-scoped advisory lock makes them take turns.
async function createTable(pool: Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('${TABLE}'))`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${TABLE} (instance text PRIMARY KEY, revoked_at timestamptz NOT NULL)`,
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

function reasonOf(error: unknown): string {
  const e = error as { code?: string; message?: string };
  // PostgreSQL server errors carry a readable message without the password; socket errors a code.
  if (e.code && /^[0-9A-Z]{5}$/.test(e.code) && e.message) return e.message.split('\n')[0]!;
  if (e.code) return e.code;
  if (e.message && /timeout/i.test(e.message)) return 'connection timeout';
  return 'connection failed';
}
