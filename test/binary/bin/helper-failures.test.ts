import { readFile } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startContractServer, type ContractServer } from '../../helpers/contract-server.ts';
import { assertBinaryBuilt, makeHelperHome, runHelper, type HelperHome } from '../../helpers/helper-binary.ts';

const HUB = 'https://index.docker.io/v1/';
const SECRET = 'failure-suite-secret-xyz';
const cleanups: Array<() => Promise<void>> = [];

beforeAll(() => assertBinaryBuilt());
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setUp(): Promise<{ server: ContractServer; home: HelperHome }> {
  const server = await startContractServer({
    credentials: { [HUB]: { username: 'hub-user', secret: SECRET, ttlMs: 600_000 } },
  });
  const home = await makeHelperHome(server.url);
  cleanups.push(
    () => server.close(),
    () => home.cleanup(),
  );
  return { server, home };
}

describe('docker-credential-dstack binary: server failures', () => {
  it('server down: names the cause and the server, exit 1', async () => {
    const { server, home } = await setUp();
    const url = server.url;
    await server.close();
    const started = Date.now();
    const result = await runHelper('get', HUB, home.env({ DOCKER_CREDENTIAL_DSTACK_TIMEOUT: '2s' }), home.cwd);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(
      `cannot reach dstack server ${url} (ECONNREFUSED): check that it is running and DOCKER_CREDENTIAL_DSTACK_SERVER\n`,
    );
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('slow server: gives up after the timeout with a message saying so', async () => {
    const { server, home } = await setUp();
    server.fallback = { kind: 'hang' };
    const started = Date.now();
    const result = await runHelper('get', HUB, home.env({ DOCKER_CREDENTIAL_DSTACK_TIMEOUT: '700ms' }), home.cwd);
    const elapsed = Date.now() - started;
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(
      `dstack server ${server.url} did not answer within 700 ms (DOCKER_CREDENTIAL_DSTACK_TIMEOUT)\n`,
    );
    expect(elapsed).toBeGreaterThanOrEqual(650);
    expect(elapsed).toBeLessThan(3000);
  });

  it('garbage instead of JSON: invalid answer, not retried', async () => {
    const { server, home } = await setUp();
    server.fallback = { kind: 'garbage' };
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(
      new RegExp(`^dstack server ${server.url} sent an invalid answer: the answer is not a JSON object`),
    );
    expect(server.credentialRequests()).toBe(1);
  });

  it('a 404 that is not the contract (wrong server) is not mistaken for "no credential"', async () => {
    const { server, home } = await setUp();
    server.fallback = { kind: 'bare', status: 404, body: 'Not Found' };
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain('does not look like a dstack-registry-auth server');
  });

  it('500 every time: retried with backoff within the budget, then fails naming the status', async () => {
    const { server, home } = await setUp();
    server.fallback = { kind: 'error', status: 500, error: 'internal', message: 'database exploded' };
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(
      new RegExp(
        `^dstack server ${server.url} failed with HTTP 500 \\(internal error after \\d attempts\\): database exploded\\n$`,
      ),
    );
    expect(server.credentialRequests()).toBeGreaterThan(1);
  });

  it('a 500 then success: the retry gets the credential', async () => {
    const { server, home } = await setUp();
    server.queue({ kind: 'error', status: 503, error: 'unavailable' });
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).Secret).toBe(SECRET);
    expect(server.credentialRequests()).toBe(2);
  });

  it('429 with Retry-After (a proxy in front rate limiting): waits that long, then succeeds', async () => {
    const { server, home } = await setUp();
    server.queue({ kind: 'bare', status: 429, body: 'Too Many Requests', retryAfter: '1' });
    const started = Date.now();
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(server.credentialRequests()).toBe(2);
  });

  it('429 with a Retry-After beyond the time budget fails at once', async () => {
    const { server, home } = await setUp();
    server.fallback = { kind: 'bare', status: 429, body: 'Too Many Requests', retryAfter: '30' };
    const started = Date.now();
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/is rate limiting credential requests/);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(server.credentialRequests()).toBe(1);
  });

  it.each([
    [
      'token_revoked',
      /^instance token revoked by http:\/\/127\.0\.0\.1:\d+: ask the dstack server for a new instance token/,
    ],
    [
      'token_expired',
      /^instance token expired \(rejected by http:\/\/127\.0\.0\.1:\d+\): ask the dstack server for a new instance token/,
    ],
    ['token_invalid', /^instance token rejected by http:\/\/127\.0\.0\.1:\d+ \(invalid token\)/],
  ])('401 %s: one request, never retried, a message naming the cause', async (code, expected) => {
    const { server, home } = await setUp();
    server.fallback = { kind: 'error', status: 401, error: code };
    const result = await runHelper('get', HUB, home.env({ DOCKER_CREDENTIAL_DSTACK_ON_ERROR: 'anonymous' }), home.cwd);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(expected);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(server.credentialRequests()).toBe(1);
  });

  it('a wrong instance token is rejected by the server and reported', async () => {
    const { server, home } = await setUp();
    const { writeFile } = await import('node:fs/promises');
    await writeFile(home.tokenFile, 'not-the-token', { mode: 0o600 });
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.stdout).toContain(`instance token rejected by ${server.url}`);
    expect(result.stdout).not.toContain('not-the-token');
  });

  it('403 forbidden: not allowed for this project, one request', async () => {
    const { server, home } = await setUp();
    server.fallback = { kind: 'error', status: 403, error: 'forbidden', message: 'project main may not use ghcr.io' };
    const result = await runHelper('get', 'ghcr.io', home.env(), home.cwd);
    expect(result.stdout).toBe(
      `registry ghcr.io is not allowed for this instance's project by ${server.url}: project main may not use ghcr.io\n`,
    );
    expect(server.credentialRequests()).toBe(1);
  });

  it('a missing token file is named, and no request is made', async () => {
    const { server, home } = await setUp();
    const result = await runHelper(
      'get',
      HUB,
      home.env({ DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: `${home.dir}/absent-token` }),
      home.cwd,
    );
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^instance token file .*absent-token does not exist/);
    expect(server.requests).toHaveLength(0);
  });

  it.each([
    ['two lines', 'first-token-part\nsecond-token-part\n'],
    ['a non-ASCII character', 'token-part-\u00e9\n'],
  ])('a token file with %s is named, the token is not printed, and no request is made', async (_, text) => {
    const { server, home } = await setUp();
    const { writeFile } = await import('node:fs/promises');
    await writeFile(home.tokenFile, text, { mode: 0o600 });
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(
      `instance token file ${home.tokenFile} holds more than one token, white space or non-ASCII characters: write only the instance token from the dstack server there\n`,
    );
    expect(result.stdout + result.stderr).not.toContain('token-part');
    expect(server.requests).toHaveLength(0);
  });

  it('a token file others can read works but warns on stderr', async () => {
    const { home } = await setUp();
    const { chmod } = await import('node:fs/promises');
    await chmod(home.tokenFile, 0o644);
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/warning: instance token file .* is readable by group or others \(mode 644\)/);
  });

  it('plain http:// to a non-loopback host is refused before any request', async () => {
    const { home } = await setUp();
    const result = await runHelper(
      'get',
      HUB,
      home.env({ DOCKER_CREDENTIAL_DSTACK_SERVER: 'http://dstack.example:8080' }),
      home.cwd,
    );
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/plain http:\/\/ would send the instance token in clear text; use https:\/\//);
  });

  it('failure policy anonymous: server down → the not-found line and a warning on stderr', async () => {
    const { server, home } = await setUp();
    await server.close();
    const result = await runHelper(
      'get',
      HUB,
      home.env({ DOCKER_CREDENTIAL_DSTACK_ON_ERROR: 'anonymous', DOCKER_CREDENTIAL_DSTACK_TIMEOUT: '1s' }),
      home.cwd,
    );
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('credentials not found in native keychain\n');
    expect(result.stderr).toMatch(
      /warning: cannot reach dstack server .*; pulling https:\/\/index\.docker\.io\/v1\/ anonymously/,
    );
  });

  it('debug output goes to stderr only, never holds the secret or the token', async () => {
    const { home } = await setUp();
    const result = await runHelper('get', HUB, home.env({ DOCKER_CREDENTIAL_DSTACK_DEBUG: '1' }), home.cwd);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/cache miss for https:\/\/index\.docker\.io\/v1\//);
    const everything = result.stderr + (await readFile(home.logFile, 'utf8'));
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain('test-instance-token');
  });
});
