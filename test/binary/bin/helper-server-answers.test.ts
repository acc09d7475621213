import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_SHORT_LIFETIME_SECONDS } from '../../../src/common/duration.ts';
import { assertBinaryBuilt, contractServerPerTest, runHelper } from '../../helpers/helper-binary.ts';

// The helper trusts only what it asked for: a credential for another registry is refused,
// and a lifetime beyond what the service can grant is cut to the service's maximum.
const HUB = 'https://index.docker.io/v1/';
const setUp = contractServerPerTest();

beforeAll(() => assertBinaryBuilt());

function answer(fields: Record<string, string>): string {
  return JSON.stringify({
    registry: HUB,
    username: 'hub-user',
    secret: 'hub-secret',
    expires_at: new Date(Date.now() + 600_000).toISOString(),
    source: 'static',
    ...fields,
  });
}

describe('docker-credential-dstack binary: answers it did not ask for', () => {
  it('a 200 for another registry than the one asked for is refused, naming both, and not cached', async () => {
    const { server, home } = await setUp();
    server.fallback = { kind: 'garbage', status: 200, body: answer({ registry: 'evil.example' }) };
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(
      `dstack server ${server.url} sent an invalid answer: a credential for registry "evil.example" when asked for ${HUB}; check DOCKER_CREDENTIAL_DSTACK_SERVER points at dstack-registry-auth\n`,
    );
    expect(result.stdout).not.toContain('hub-secret');
    expect((await readdir(home.cacheDir).catch(() => [])).filter((name) => name.endsWith('.json'))).toEqual([]);
  });

  it('an expires_at in 2999 is cached for at most the service maximum (a day)', async () => {
    const { server, home } = await setUp();
    server.fallback = { kind: 'garbage', status: 200, body: answer({ expires_at: '2999-01-01T00:00:00.000Z' }) };
    const before = Date.now();
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    const after = Date.now();
    expect(result.exitCode).toBe(0);
    const [entryName] = (await readdir(home.cacheDir)).filter((name) => name.endsWith('.json'));
    const entry = JSON.parse(await readFile(join(home.cacheDir, entryName!), 'utf8')) as {
      issuedAt: string;
      expiresAt: string;
    };
    const lifetimeMs = Date.parse(entry.expiresAt) - Date.parse(entry.issuedAt);
    expect(lifetimeMs).toBe(MAX_SHORT_LIFETIME_SECONDS * 1000);
    expect(Date.parse(entry.issuedAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(entry.issuedAt)).toBeLessThanOrEqual(after);
    expect(await readFile(home.logFile, 'utf8')).toContain(
      `cached credential for ${HUB} until ${entry.expiresAt} (the server said 2999-01-01T00:00:00.000Z; capped at 1d, the longest the service grants)`,
    );
  });
});
