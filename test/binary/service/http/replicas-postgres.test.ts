import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { startPostgres, type RunningPostgres } from '../../../helpers/postgres.ts';
import {
  ADMIN_TOKEN,
  DEFAULT_REGISTRY_ENV,
  startTestService,
  type TestService,
} from '../../../helpers/service-harness.ts';
import { revokeCommand } from '../../../../src/service/commands/revoke-command.ts';

let postgres: RunningPostgres | undefined;
let unavailable: string | undefined;
let dir: string;
let a: TestService;
let b: TestService;

// Two replicas on separate data directories, sharing the instance key by configuration and
// revocations through one PostgreSQL, as behind a load balancer.
beforeAll(async () => {
  try {
    postgres = await startPostgres();
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    unavailable = `PostgreSQL could not be started here: ${(error as Error).message}`;
    return;
  }
  dir = await mkdtemp(join(tmpdir(), 'replicas-'));
  const shared = {
    ...DEFAULT_REGISTRY_ENV,
    DSTACK_REGISTRY_AUTH_DATABASE_URL: postgres.url,
    DSTACK_REGISTRY_AUTH_ADMIN_TOKEN: ADMIN_TOKEN,
  };
  a = await startTestService({ dataDir: join(dir, 'a'), env: shared });
  b = await startTestService({
    dataDir: join(dir, 'b'),
    env: { ...shared, DSTACK_REGISTRY_AUTH_INSTANCE_KEY_FILE: join(dir, 'a', 'keys', 'instance.pem') },
  });
}, 90_000);
afterAll(async () => {
  await a?.close();
  await b?.close();
  await postgres?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const ask = (svc: TestService, token: string) =>
  svc.request('/v1/credentials', { token, body: { registry: 'docker.mycompany.example' } });

describe('revocation across replicas sharing PostgreSQL', () => {
  it('a revocation through one replica is enforced by the other on its next request', async (ctx) => {
    if (unavailable) ctx.skip(unavailable);
    const token = await a.mint('i-shared', 'main');
    expect((await ask(a, token)).status).toBe(200);
    expect((await ask(b, token)).status).toBe(200);
    const revoked = await a.request('/v1/admin/revocations', { token: ADMIN_TOKEN, body: { instance: 'i-shared' } });
    expect(revoked.status).toBe(200);
    expect((await ask(b, token)).json.error).toBe('token_revoked');
    expect((await ask(a, token)).json.error).toBe('token_revoked');
  });

  it('the revoke command with DSTACK_REGISTRY_AUTH_DATABASE_URL reaches both running replicas', async (ctx) => {
    if (unavailable) ctx.skip(unavailable);
    const token = await b.mint('i-cli', 'main');
    expect((await ask(a, token)).status).toBe(200);
    // The command uses the real clock, later than the frozen one the token was minted at.
    const stdout = new PassThrough();
    const code = await revokeCommand({
      argv: ['--instance', 'i-cli', '--data-dir', join(dir, 'cli')],
      env: { DSTACK_REGISTRY_AUTH_DATABASE_URL: postgres!.url },
      stdin: new PassThrough(),
      stdout,
      stderr: new PassThrough(),
      cwd: dir,
    });
    expect(code).toBe(0);
    for (const svc of [a, b]) expect((await ask(svc, token)).json.error).toBe('token_revoked');
  });

  it('answers 503 unavailable with Retry-After, not a stack, when PostgreSQL is gone', async (ctx) => {
    if (unavailable) ctx.skip(unavailable);
    const token = await a.mint('i-down', 'main');
    await postgres!.stop();
    postgres = undefined;
    const res = await ask(a, token);
    expect(res.status).toBe(503);
    expect(res.json.error).toBe('unavailable');
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(res.text).not.toContain('postgres://');
    expect(a.logLines.join('\n')).toMatch(
      /unavailable: revocation store in PostgreSQL at postgres:\/\/\*\*\*@127\.0\.0\.1/,
    );
    const audit = a.auditLines
      .map((line) => JSON.parse(line))
      .filter((e) => e.instance === undefined && e.reason === 'unavailable');
    expect(audit.length).toBeGreaterThan(0);
  }, 30_000);
});
