import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContractServer, type ContractServer } from '../../helpers/contract-server.ts';
import { assertBinaryBuilt, makeHelperHome, runHelper, type HelperHome } from '../../helpers/helper-binary.ts';

const SECRET = 'hub-pull-secret-s3cr3t';
let server: ContractServer;
let home: HelperHome;

beforeAll(async () => {
  assertBinaryBuilt();
  server = await startContractServer({
    credentials: {
      'https://index.docker.io/v1/': { username: 'hub-user', secret: SECRET, ttlMs: 600_000 },
      '127.0.0.1:5000': { username: 'local-user', secret: 'local-secret-1', ttlMs: 600_000 },
    },
  });
  home = await makeHelperHome(server.url);
});
afterAll(async () => {
  await server?.close();
  await home?.cleanup();
});

describe('docker-credential-dstack binary: protocol actions', () => {
  it('get prints the credential as one JSON line, then serves it from the cache', async () => {
    const first = await runHelper('get', 'https://index.docker.io/v1/', home.env(), home.cwd);
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toBe(
      `{"ServerURL":"https://index.docker.io/v1/","Username":"hub-user","Secret":"${SECRET}"}\n`,
    );
    expect(server.credentialRequests()).toBe(1);
    const request = server.requests.find((r) => r.path === '/v1/credentials')!;
    expect(JSON.parse(request.body)).toEqual({ registry: 'https://index.docker.io/v1/' });
    expect(request.authorization).toMatch(/^Bearer test-instance-token/);
    expect(request.userAgent).toMatch(/^docker-credential-dstack\//);

    const second = await runHelper('get', 'https://index.docker.io/v1/', home.env(), home.cwd);
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(server.credentialRequests()).toBe(1);

    const log = await readFile(home.logFile, 'utf8');
    expect(log).toMatch(/cache miss for https:\/\/index\.docker\.io\/v1\/: requesting http:\/\/127\.0\.0\.1/);
    expect(log).toMatch(/cache hit for https:\/\/index\.docker\.io\/v1\//);
    expect(log).not.toContain(SECRET);
    expect(second.stderr).toBe('');
  });

  it('trims CRLF and spaces around the server URL, and answers with the URL as sent', async () => {
    const result = await runHelper('get', '  docker.io\r\n', home.env(), home.cwd);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ ServerURL: 'docker.io', Username: 'hub-user', Secret: SECRET });
  });

  it('empty input is `no credentials server URL` on stdout, exit 1', async () => {
    for (const input of ['', '\r\n', '   ']) {
      const result = await runHelper('get', input, home.env(), home.cwd);
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toBe('no credentials server URL\n');
    }
  });

  it('a registry the server has no credential for prints exactly the not-found line', async () => {
    const before = server.credentialRequests();
    const result = await runHelper('get', 'ghcr.io', home.env(), home.cwd);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('credentials not found in native keychain\n');
    expect(server.credentialRequests()).toBe(before + 1);
    // remembered briefly, so a burst of pulls of public images asks once
    const again = await runHelper('get', 'ghcr.io', home.env(), home.cwd);
    expect(again.stdout).toBe('credentials not found in native keychain\n');
    expect(server.credentialRequests()).toBe(before + 1);
  });

  it('store refuses: docker login is not needed', async () => {
    const result = await runHelper(
      'store',
      JSON.stringify({ ServerURL: 'https://index.docker.io/v1/', Username: 'u', Secret: 'typed-password' }),
      home.env(),
      home.cwd,
    );
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^docker login is not needed for https:\/\/index\.docker\.io\/v1\/.*\n$/);
    expect(result.stdout).not.toContain('typed-password');
  });

  it('list shows registry → username for cached credentials, never secrets', async () => {
    await runHelper('get', '127.0.0.1:5000', home.env(), home.cwd);
    const result = await runHelper('list', '', home.env(), home.cwd);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      'https://index.docker.io/v1/': 'hub-user',
      '127.0.0.1:5000': 'local-user',
    });
    expect(result.stdout).not.toContain('secret');
  });

  it('erase drops the cached entry, so the next get asks the server again', async () => {
    const before = server.credentialRequests();
    const erased = await runHelper('erase', 'http://127.0.0.1:5000/\n', home.env(), home.cwd);
    expect(erased.exitCode).toBe(0);
    expect(erased.stdout).toBe('');
    const listed = await runHelper('list', '', home.env(), home.cwd);
    expect(Object.keys(JSON.parse(listed.stdout))).toEqual(['https://index.docker.io/v1/']);
    const result = await runHelper('get', '127.0.0.1:5000', home.env(), home.cwd);
    expect(result.exitCode).toBe(0);
    expect(server.credentialRequests()).toBe(before + 1);
    // erasing what is not there is fine too
    expect((await runHelper('erase', 'nothing.example', home.env(), home.cwd)).exitCode).toBe(0);
  });

  it('version, --version and --help answer on stdout with exit 0', async () => {
    for (const args of [['version'], ['--version'], ['-v']]) {
      const result = await runHelper('', '', {}, home.cwd, args);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toMatch(/^docker-credential-dstack \S+\n$/);
    }
    const help = await runHelper('', '', {}, home.cwd, ['--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^Usage: docker-credential-dstack /);
  });

  it('no action, an unknown action or extra arguments print the usage line, exit 1', async () => {
    for (const args of [[], ['fetch'], ['get', 'extra']]) {
      const result = await runHelper('', '', {}, home.cwd, args);
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toMatch(/^Usage: docker-credential-dstack /);
    }
  });

  it('runs with an empty environment: get names the missing configuration, list works', async () => {
    const get = await runHelper('get', 'docker.io', {}, home.cwd);
    expect(get.exitCode).toBe(1);
    expect(get.stdout).toMatch(/^no dstack server configured: set DOCKER_CREDENTIAL_DSTACK_SERVER/);
    const list = await runHelper('list', '', { DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: home.cacheDir }, home.cwd);
    expect(list.exitCode).toBe(0);
    expect(JSON.parse(list.stdout)).toHaveProperty(['https://index.docker.io/v1/'], 'hub-user');
  });

  it('takes its settings from the config file, with the environment overriding it', async () => {
    const { writeFile } = await import('node:fs/promises');
    const config = `${home.dir}/config.json`;
    await writeFile(
      config,
      JSON.stringify({
        server: server.url,
        tokenFile: home.tokenFile,
        cacheDir: `${home.dir}/cache2`,
        onError: 'fail',
      }),
    );
    const fromFile = await runHelper('get', '127.0.0.1:5000', { DOCKER_CREDENTIAL_DSTACK_CONFIG: config }, home.cwd);
    expect(fromFile.exitCode).toBe(0);
    expect(JSON.parse(fromFile.stdout).Username).toBe('local-user');
    const overridden = await runHelper(
      'get',
      '127.0.0.1:5000',
      {
        DOCKER_CREDENTIAL_DSTACK_CONFIG: config,
        DOCKER_CREDENTIAL_DSTACK_SERVER: 'http://127.0.0.1:1',
        DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: `${home.dir}/cache3`,
        DOCKER_CREDENTIAL_DSTACK_TIMEOUT: '300',
      },
      home.cwd,
    );
    expect(overridden.exitCode).toBe(1);
    expect(overridden.stdout).toContain('http://127.0.0.1:1');
  });
});
