import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openRevocationStore } from '../../../../src/service/store/open-revocation-store.ts';
import { startPostgres, type RunningPostgres } from '../../../helpers/postgres.ts';
import { revocationStoreSuite } from '../../../helpers/revocation-store-suite.ts';

let server: RunningPostgres | undefined;
let unavailable: string | undefined;

// Under CI the PostgreSQL backend must be tested: failing to start it fails the run.
beforeAll(async () => {
  try {
    server = await startPostgres();
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    unavailable = `PostgreSQL could not be started here: ${(error as Error).message}`;
    console.warn(`skipping PostgreSQL revocation store tests: ${unavailable}`);
  }
}, 90_000);
afterAll(async () => {
  await server?.stop();
});

const dataDir = '/nonexistent-data-dir-unused-with-postgres';

describe('PostgreSQL revocation store (several replicas)', () => {
  revocationStoreSuite({
    open: () => openRevocationStore({ dataDir, databaseUrl: server!.url }),
    skipReason: () => unavailable,
  });

  it('creates its table when missing, also when replicas start at the same moment', async (ctx) => {
    if (unavailable) ctx.skip(unavailable);
    const admin = new pg.Client({ connectionString: server!.url });
    await admin.connect();
    await admin.query('CREATE DATABASE fresh_replicas');
    await admin.end();
    const url = server!.url.replace(/\/postgres$/, '/fresh_replicas');
    const stores = await Promise.all([1, 2, 3, 4].map(() => openRevocationStore({ dataDir, databaseUrl: url })));
    await stores[0]!.revoke('i-1', new Date('2026-11-26T21:00:00.000Z'));
    expect((await stores[3]!.revokedAt('i-1'))?.toISOString()).toBe('2026-11-26T21:00:00.000Z');
    await Promise.all(stores.map((s) => s.close()));
  });

  it('a wrong password is a coded error naming the database, never the password', async (ctx) => {
    if (unavailable) ctx.skip(unavailable);
    const url = new URL(server!.url);
    url.password = 'wrong-pass-5f3a';
    const error = await openRevocationStore({ dataDir, databaseUrl: url.toString() }).catch((e) => e);
    expect(error).toMatchObject({ code: 'store_unavailable' });
    expect(error.message).toContain(`postgres://***@127.0.0.1:${url.port}/postgres`);
    expect(error.message).toMatch(/password authentication failed/);
    expect(error.message).not.toContain('wrong-pass-5f3a');
    expect(error.message).not.toContain(server!.password);
  });

  it('an unreachable server is a coded error without the user info', async () => {
    const error = await openRevocationStore({
      dataDir,
      databaseUrl: 'postgresql://app:s3cret-pw@127.0.0.1:1/revocations?sslmode=disable',
    }).catch((e) => e);
    expect(error).toMatchObject({ code: 'store_unavailable' });
    expect(error.message).toBe(
      'cannot use the revocation store in PostgreSQL at postgresql://***@127.0.0.1:1/revocations?sslmode=disable (ECONNREFUSED); check DSTACK_REGISTRY_AUTH_DATABASE_URL (databaseUrl in the config file) and that the server is reachable',
    );
  });

  it('a store whose server went away answers unavailable (503), not a crash', async (ctx) => {
    if (unavailable) ctx.skip(unavailable);
    const own = await startPostgres();
    const store = await openRevocationStore({ dataDir, databaseUrl: own.url });
    await own.stop();
    const error = await store.revokedAt('i-1').catch((e) => e);
    expect(error).toMatchObject({ code: 'unavailable' });
    expect(error.message).not.toContain(own.password);
    await store.close();
  }, 60_000);

  it('names the database without user info or password query parameters', async () => {
    const error = await openRevocationStore({
      dataDir,
      databaseUrl: 'postgres://app-user:s3cret-pw@127.0.0.1:1/d?password=s3cret-q&connect_timeout=2',
    }).catch((e) => e);
    expect(error.message).toContain(
      'PostgreSQL at postgres://***@127.0.0.1:1/d?password=***&connect_timeout=2 (ECONNREFUSED)',
    );
    expect(error.message).not.toMatch(/app-user|s3cret/);
  });
});
