import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContractServer, type ContractServer } from '../../helpers/contract-server.ts';
import { assertBinaryBuilt, makeHelperHome, runHelper, type HelperHome } from '../../helpers/helper-binary.ts';
import { fakeHost } from '../../helpers/setup-fixture.ts';

// No URL the helper prints ever shows its user info: not on stdout, not on stderr, not in
// the log file. One caller of src/common/redact-url.ts per case, each through the built binary.
const USER = 'alice';
const PASSWORD = 'S3cret';
let server: ContractServer;
let home: HelperHome;

beforeAll(async () => {
  assertBinaryBuilt();
  server = await startContractServer({
    credentials: { 'https://index.docker.io/v1/': { username: 'hub-user', secret: 'hub-secret', ttlMs: 600_000 } },
  });
  home = await makeHelperHome(server.url);
});
afterAll(async () => {
  await server?.close();
  await home?.cleanup();
});

async function everythingPrinted(result: { stdout: string; stderr: string }): Promise<string> {
  const log = await readFile(home.logFile, 'utf8').catch(() => '');
  return `${result.stdout}\n${result.stderr}\n${log}`;
}

function expectNoUserInfo(text: string): void {
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(USER);
}

describe('docker-credential-dstack binary: user info in URLs never reaches any output', () => {
  it('a server URL with user info (environment): refused, shown without it', async () => {
    const port = new URL(server.url).port;
    const result = await runHelper(
      'get',
      'https://index.docker.io/v1/',
      home.env({ DOCKER_CREDENTIAL_DSTACK_SERVER: `https://${USER}:${PASSWORD}@127.0.0.1:${port}` }),
      home.cwd,
    );
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(
      `invalid dstack server URL "https://***@127.0.0.1:${port}": credentials in the URL are not allowed; remove them (the instance token file authenticates the host)\n`,
    );
    expectNoUserInfo(await everythingPrinted(result));
  });

  it('a server URL with user info (config file), also for list and erase', async () => {
    const config = join(home.dir, 'userinfo-config.json');
    await writeFile(config, JSON.stringify({ server: `https://${USER}:${PASSWORD}/x@dstack.example` }));
    const env = home.env({ DOCKER_CREDENTIAL_DSTACK_CONFIG: config, DOCKER_CREDENTIAL_DSTACK_SERVER: '' });
    for (const [action, input] of [
      ['get', 'docker.io'],
      ['erase', 'docker.io'],
      ['list', ''],
    ] as const) {
      const result = await runHelper(action, input, env, home.cwd);
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toContain('"https://***@dstack.example"');
      expectNoUserInfo(await everythingPrinted(result));
    }
  });

  it('a registry key with user info on stdin', async () => {
    const result = await runHelper('get', `https://${USER}:${PASSWORD}@registry.example`, home.env(), home.cwd);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(
      /^invalid registry key "https:\/\/\*\*\*@registry\.example": credentials in a registry key are not allowed/,
    );
    expectNoUserInfo(await everythingPrinted(result));
  });

  it('docker login (store) with user info in ServerURL', async () => {
    const input = JSON.stringify({
      ServerURL: `https://${USER}:${PASSWORD}@registry.example`,
      Username: 'someone',
      Secret: 'pw',
    });
    const result = await runHelper('store', input, home.env(), home.cwd);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(
      'docker login is not needed for https://***@registry.example: docker-credential-dstack gets short-lived credentials from the dstack server and stores none\n',
    );
    expectNoUserInfo(await everythingPrinted(result));
  });

  it('configure --mirror with user info (a password holding "/")', async () => {
    const host = await fakeHost();
    try {
      const result = await host.run([
        'configure',
        '--dry-run',
        '--engines',
        'docker',
        ...host.pathArgs,
        '--mirror',
        `https://${USER}:${PASSWORD}/x@mirror.example`,
      ]);
      expect(result.exitCode).not.toBe(0);
      expect(`${result.stdout}${result.stderr}`).toContain('invalid mirror URL "https://***@mirror.example"');
      expectNoUserInfo(`${result.stdout}${result.stderr}`);
    } finally {
      await host.cleanup();
    }
  });

  it('doctor with a server URL with user info', async () => {
    const host = await fakeHost();
    try {
      const result = await host.run(['doctor'], {
        DOCKER_CREDENTIAL_DSTACK_CONFIG: join(home.dir, 'no-config.json'),
        DOCKER_CREDENTIAL_DSTACK_SERVER: `https://${USER}:${PASSWORD}@dstack.example`,
        DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: home.tokenFile,
      });
      expect(`${result.stdout}${result.stderr}`).toContain('https://***@dstack.example');
      expectNoUserInfo(`${result.stdout}${result.stderr}`);
    } finally {
      await host.cleanup();
    }
  });
});
