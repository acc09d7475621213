import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startContractServer, type ContractServer } from '../../../helpers/contract-server.ts';
import { dockerRegistryAvailable, startRegistry, type RegistryProcess } from '../../../helpers/registry.ts';
import { writeHtpasswd } from '../../../helpers/htpasswd.ts';
import { fakeHost, HELPER_BINARY, type FakeHost } from '../../../helpers/setup-fixture.ts';
import { doctorArgs, helperEnv } from '../../../helpers/doctor-fixture.ts';
import { projectedTokenVolume } from '../../../helpers/kubernetes-node.ts';

const HUB = 'https://index.docker.io/v1/';
const SECRET = 'hub-secret-value-do-not-print';
const hasRegistry = dockerRegistryAvailable();

// configure, doctor and auth-header against a real HTTP server speaking docs/contract.md, with
// a real registry (htpasswd) on loopback as the mirror.
describe.skipIf(!hasRegistry)('host commands with a server', () => {
  let server: ContractServer;
  let registry: RegistryProcess;
  let mirrorKey: string;
  let host: FakeHost;
  let env: Record<string, string>;

  beforeAll(async () => {
    host = await fakeHost();
    const account = await writeHtpasswd(join(host.root, 'htpasswd'), 'mirror-user');
    registry = await startRegistry({
      dir: join(host.root, 'registry'),
      auth: { htpasswd: { realm: 'test', path: join(host.root, 'htpasswd') } },
    });
    mirrorKey = registry.host;
    server = await startContractServer({
      credentials: {
        [HUB]: { username: 'instance:i-1', secret: SECRET, ttlMs: 600_000 },
        [mirrorKey]: { username: account.username, secret: account.password, ttlMs: 600_000 },
      },
      hostConfig: { mirrors: [registry.url], registries: [HUB] },
      brokered: ['broker.example'],
    });
    env = await helperEnv(host, server);
    await symlink(HELPER_BINARY, join(host.root, 'bin', 'docker-credential-dstack'));
  });
  afterAll(async () => {
    await server?.close();
    await registry?.stop();
    await host?.cleanup();
  });

  it('doctor fails before configure: the client config does not name the helper', async () => {
    const result = await host.run(['doctor', ...doctorArgs(host, 'docker')], env);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(
      /^fail client config: .*config\.json does not exist \(fix: run docker-credential-dstack configure\)$/m,
    );
    expect(result.stdout).toMatch(
      new RegExp(
        `^fail daemon\\.json: ${host.daemonJson} does not name ${registry.url} \\(fix: run docker-credential-dstack configure\\)$`,
        'm',
      ),
    );
  });

  it('doctor and configure on a broken client config.json name the place of the error, never its text', async () => {
    const path = join(host.dockerConfig, 'config.json');
    await mkdir(host.dockerConfig, { recursive: true });
    await writeFile(path, '{"auths": {"ghcr.io": {"auth": c2VjcmV0LXBhc3N3b3Jk}}}\n', { mode: 0o600 });
    try {
      const doctor = await host.run(['doctor', ...doctorArgs(host, 'docker')], env);
      expect(doctor.stdout).toMatch(
        /^fail client config: .*config\.json is not valid JSON \(syntax error\); fix or move it/m,
      );
      const configure = await host.run(['configure', ...host.pathArgs, '--engines', 'docker'], env);
      expect(configure.exitCode).toBe(1);
      expect(configure.stderr).toMatch(
        /config\.json is not valid JSON \(syntax error\); fix or move it, nothing was changed/,
      );
      for (const output of [doctor.stdout, doctor.stderr, configure.stdout, configure.stderr])
        expect(output).not.toContain('c2VjcmV0');
    } finally {
      await rm(path, { force: true });
    }
  });

  it('configure takes mirrors and registries from the server', async () => {
    const result = await host.run(['configure', ...host.pathArgs, '--engines', 'docker'], env);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      `configuring from server ${server.url}: mirrors ${registry.url}; helper for ${HUB}, ${mirrorKey}`,
    );
    expect(server.requests.some((r) => r.method === 'GET' && r.path === '/v1/host-config')).toBe(true);
    expect(JSON.parse(await readFile(join(host.dockerConfig, 'config.json'), 'utf8')).credHelpers).toEqual({
      [HUB]: 'dstack',
      [mirrorKey]: 'dstack',
    });
    expect(JSON.parse(await readFile(host.daemonJson, 'utf8'))).toEqual({ 'registry-mirrors': [registry.url] });
  });

  it('doctor: one line per check in order, the registry probed with the credential, credentials never printed', async () => {
    const result = await host.run(['doctor', ...doctorArgs(host, 'docker')], env);
    const names = result.stdout
      .split('\n')
      .filter((l) => /^(ok|warn|fail|skip) /.test(l))
      .map((l) => l.slice(5, l.indexOf(': ')));
    expect(names).toEqual([
      'helper binary',
      'helper config',
      'token file',
      'server',
      'clock',
      'host config',
      `credential ${HUB}`,
      `credential ${mirrorKey}`,
      'client config',
      'mirror endpoint',
      `upstream ${registry.url}`,
      'daemon.json',
      'docker certs.d hosts.toml',
      'containerd hosts.toml',
      'containerd CRI',
      'podman registries.conf.d',
      'dockerd mirrors',
      'image store',
      'docker hub fallback',
    ]);
    expect(result.stdout).toMatch(
      /^skip mirror endpoint: not used: the engines are pointed at the mirrors themselves/m,
    );
    expect(result.stdout).toMatch(
      new RegExp(
        `^ok   upstream ${registry.url}: /v2/ answered HTTP 200 from this host: the upstream accepts the credential from the dstack server$`,
        'm',
      ),
    );
    expect(result.stdout).toMatch(/^skip containerd hosts\.toml: containerd is not installed \(not in --engines\)$/m);
    expect(result.stdout).toMatch(
      new RegExp(
        `^ok   docker certs\\.d hosts\\.toml: ${host.dockerCerts}/docker\\.io/hosts\\.toml is absent: dockerd uses registry-mirrors on either image store$`,
        'm',
      ),
    );
    expect(result.stdout).toMatch(/^skip image store: no docker info$/m);
    expect(result.stdout).toMatch(
      /^ok {3}docker hub fallback: Docker Hub \(127\.0\.0\.1:\d+\) is not reachable from this host \(ECONNREFUSED\)/m,
    );
    // the probe reached the registry, which accepted the account
    expect(await registry.log()).toMatch(/GET \/v2\/ HTTP\/1\.1" 200/);
    expect(result.stdout).toMatch(/^ok {3}token file: .*token \(mode 0600\)$/m);
    expect(result.stdout).toMatch(
      /^ok {3}credential https:\/\/index\.docker\.io\/v1\/: obtained for instance:i-1, expires in 10 min \(not shown\)$/m,
    );
    expect(result.stdout).toMatch(/^warn dockerd mirrors: docker info could not reach the daemon/m);
    expect(result.stdout + result.stderr).not.toContain(SECRET);
    expect(result.stdout).toContain('doctor: all checks passed');
    expect(result.exitCode).toBe(0);
  });

  it('doctor fails on a token file readable by others, with the fix', async () => {
    const tokenFile = join(host.root, 'token');
    await chmod(tokenFile, 0o644);
    try {
      const result = await host.run(['doctor', ...doctorArgs(host, 'docker')], env);
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toMatch(
        new RegExp(
          `^fail token file: ${tokenFile} is readable by others \\(mode 0644\\) \\(fix: chmod 600 ${tokenFile}\\)$`,
          'm',
        ),
      );
    } finally {
      await chmod(tokenFile, 0o600);
    }
  });

  it("doctor checks a Kubernetes node's projected service-account token instead of the token file", async () => {
    const volume = await projectedTokenVolume(join(host.root, 'projected'));
    await volume.write('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln');
    const ok = await host.run(['doctor', ...doctorArgs(host, 'docker')], {
      ...env,
      DOCKER_CREDENTIAL_DSTACK_SERVICE_ACCOUNT_TOKEN_FILE: volume.path,
    });
    expect(ok.stdout).toMatch(
      new RegExp(
        `^ok   token file: ${volume.path} \\(a service-account token, sent instead of the instance token\\)$`,
        'm',
      ),
    );
    // The contract server does not know the token: the fix names the Kubernetes settings, not an instance token.
    expect(ok.stdout).toMatch(
      /^fail host config: service-account token \(.*\) refused by .*\(fix: check the projected token's audience and the dstack server's kubernetes settings \(docs\/kubernetes\.md\)\)$/m,
    );
    const missing = join(host.root, 'no-projected', 'token');
    const fail = await host.run(['doctor', ...doctorArgs(host, 'docker')], {
      ...env,
      DOCKER_CREDENTIAL_DSTACK_SERVICE_ACCOUNT_TOKEN_FILE: missing,
    });
    expect(fail.exitCode).toBe(1);
    expect(fail.stdout).toMatch(
      new RegExp(
        `^fail token file: service-account token file ${missing} does not exist: .* \\(fix: mount a projected service-account token there \\(docs/kubernetes\\.md\\)\\)$`,
        'm',
      ),
    );
  });

  it('doctor fails when the server is unreachable', async () => {
    const configPath = join(host.root, 'down-config.json');
    await writeFile(
      configPath,
      JSON.stringify({
        server: 'http://127.0.0.1:9',
        tokenFile: join(host.root, 'token'),
        cacheDir: join(host.root, 'cache2'),
        timeoutMs: 2000,
      }),
    );
    const result = await host.run(['doctor', ...doctorArgs(host, 'docker')], {
      ...env,
      DOCKER_CREDENTIAL_DSTACK_CONFIG: configPath,
    });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^fail server: .*127\.0\.0\.1:9.*\(fix: check the server URL/m);
    expect(result.stdout).toMatch(/^skip upstream: no host config$/m);
  });

  it('auth-header prints the padded base64url X-Registry-Auth for the Docker Hub key of an unqualified image', async () => {
    const result = await host.run(['auth-header', 'python:3.14'], env);
    expect(result.exitCode, result.stderr).toBe(0);
    const value = result.stdout.trim();
    expect(value).toMatch(/^[A-Za-z0-9_-]+=*$/);
    expect(value.length % 4).toBe(0);
    expect(JSON.parse(Buffer.from(value, 'base64url').toString('utf8'))).toEqual({
      username: 'instance:i-1',
      password: SECRET,
      serveraddress: HUB,
    });
    expect(result.stderr).not.toContain(SECRET);
  });

  it("auth-header asks with the repository; a brokered registry's token goes out as registrytoken", async () => {
    const result = await host.run(['auth-header', 'broker.example/team/app:1'], env);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(Buffer.from(result.stdout.trim(), 'base64url').toString('utf8'))).toEqual({
      registrytoken: 'token-for-team/app',
      serveraddress: 'broker.example',
    });
    const request = server.requests.filter((r) => r.path === '/v1/credentials').at(-1)!;
    expect(JSON.parse(request.body)).toEqual({ registry: 'broker.example', repository: 'team/app' });
  });

  it("get for a brokered registry: the not-found line, and the service's reason on stderr", async () => {
    const result = await host.run(['get'], env, 'broker.example');
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('credentials not found in native keychain');
    expect(result.stderr).toMatch(
      /warning: .* has no credential for broker\.example: registry broker\.example issues repository-scoped tokens only/,
    );
  });

  it('auth-header without a credential for the registry: nothing on stdout, exit 1, the reason on stderr', async () => {
    const result = await host.run(['auth-header', 'ghcr.io/org/app:1'], env);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/no credential for ghcr\.io/);
    const bad = await host.run(['auth-header'], env);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/expected exactly one IMAGE/);
  });
});

describe('doctor with a server whose host config lists a bad mirror', () => {
  it('reports it as a failed check and still runs the checks after it', async () => {
    const server = await startContractServer({
      hostConfig: { mirrors: ['mirror-without-scheme.example'], registries: [] },
    });
    const host = await fakeHost();
    try {
      const env = await helperEnv(host, server);
      // a tiny real `docker` that answers `docker info` like a classic-store daemon without mirrors
      await writeFile(
        join(host.root, 'bin', 'docker'),
        `#!/bin/sh\necho '{"ServerVersion":"20.10.24","Driver":"overlay2","DriverStatus":[],"RegistryConfig":{"Mirrors":[]}}'\n`,
        { mode: 0o755 },
      );
      const result = await host.run(['doctor', ...doctorArgs(host, 'docker')], env);
      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(
        /^fail dockerd mirrors: the server's host config: invalid mirror URL "mirror-without-scheme\.example": a scheme is required/m,
      );
      expect(result.stdout).toMatch(/^ok {3}image store: dockerd uses the classic image store/m);
      expect(result.exitCode).toBe(1);

      const configure = await host.run(['configure', ...host.pathArgs, '--engines', 'docker'], env);
      expect(configure.exitCode).toBe(1);
      expect(configure.stderr).toBe(
        `docker-credential-dstack configure: the host config of server ${server.url} is not usable: invalid mirror URL "mirror-without-scheme.example": a scheme is required; use https://host[:port][/path] or http://host[:port][/path]; ask the dstack operator to fix it, or pass --mirror/--registry`,
      );
      expect(await host.snapshot()).toEqual(
        expect.not.objectContaining({ 'root-docker/config.json': expect.anything() }),
      );
    } finally {
      await server.close();
      await host.cleanup();
    }
  });
});
