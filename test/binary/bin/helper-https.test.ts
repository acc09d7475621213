import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContractServer, type ContractServer } from '../../helpers/contract-server.ts';
import { makeLoopbackCertificate, startConnectProxy } from '../../helpers/tls-fixtures.ts';
import { assertBinaryBuilt, makeHelperHome, runHelper, type HelperHome } from '../../helpers/helper-binary.ts';

const HUB = 'https://index.docker.io/v1/';
let dir: string;
let certFile: string;
let server: ContractServer;
let home: HelperHome;

beforeAll(async () => {
  assertBinaryBuilt();
  dir = await mkdtemp(join(tmpdir(), 'dcd-https-'));
  const tls = await makeLoopbackCertificate(dir);
  certFile = tls.certFile;
  server = await startContractServer({
    tls,
    credentials: { [HUB]: { username: 'hub-user', secret: 'https-secret', ttlMs: 600_000 } },
  });
  home = await makeHelperHome(server.url);
});
afterAll(async () => {
  await server?.close();
  await home?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe('docker-credential-dstack binary over https', () => {
  it('refuses a certificate it cannot verify, naming the CA setting', async () => {
    const result = await runHelper(
      'get',
      HUB,
      home.env({ DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: join(dir, 'c1') }),
      home.cwd,
    );
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(
      new RegExp(
        `^TLS connection to dstack server ${server.url} failed \\(\\w+\\): set DOCKER_CREDENTIAL_DSTACK_CA_FILE`,
      ),
    );
  });

  it('trusts DOCKER_CREDENTIAL_DSTACK_CA_FILE, and goes through HTTPS_PROXY unless NO_PROXY names the host', async () => {
    const proxy = await startConnectProxy();
    try {
      const direct = await runHelper(
        'get',
        HUB,
        home.env({ DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: join(dir, 'c2'), DOCKER_CREDENTIAL_DSTACK_CA_FILE: certFile }),
        home.cwd,
      );
      expect(JSON.parse(direct.stdout).Secret).toBe('https-secret');
      const proxied = await runHelper(
        'get',
        HUB,
        home.env({
          DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: join(dir, 'c3'),
          DOCKER_CREDENTIAL_DSTACK_CA_FILE: certFile,
          HTTPS_PROXY: proxy.url,
        }),
        home.cwd,
      );
      expect(JSON.parse(proxied.stdout).Secret).toBe('https-secret');
      expect(proxy.tunnels).toEqual([`127.0.0.1:${new URL(server.url).port}`]);
      const bypass = await runHelper(
        'get',
        HUB,
        home.env({
          DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: join(dir, 'c4'),
          DOCKER_CREDENTIAL_DSTACK_CA_FILE: certFile,
          https_proxy: proxy.url,
          no_proxy: '127.0.0.1',
        }),
        home.cwd,
      );
      expect(JSON.parse(bypass.stdout).Secret).toBe('https-secret');
      expect(proxy.tunnels).toHaveLength(1);
      expect(server.credentialRequests()).toBe(3);
    } finally {
      await proxy.close();
    }
  });
});
