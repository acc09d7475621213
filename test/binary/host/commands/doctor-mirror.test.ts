import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Server } from 'node:net';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { startContractServer, type ContractServer } from '../../../helpers/contract-server.ts';
import { dockerRegistryAvailable, startRegistry, type RegistryProcess } from '../../../helpers/registry.ts';
import { writeHtpasswd, type Account } from '../../../helpers/htpasswd.ts';
import { fakeHost, HELPER_BINARY, type FakeHost } from '../../../helpers/setup-fixture.ts';
import { doctorArgs, helperEnv } from '../../../helpers/doctor-fixture.ts';

const hasRegistry = dockerRegistryAvailable();

// doctor against the things that break pulls: a real htpasswd registry as the upstream, the
// real mirror endpoint binary, the service's credential right or wrong.
describe.skipIf(!hasRegistry)('doctor finds what breaks pulls', () => {
  let host: FakeHost;
  let registry: RegistryProcess;
  let account: Account;
  let env: Record<string, string>;
  const servers: ContractServer[] = [];
  const endpoints: ResultPromise[] = [];

  beforeAll(async () => {
    host = await fakeHost();
    account = await writeHtpasswd(join(host.root, 'htpasswd'), 'mirror-user');
    registry = await startRegistry({
      dir: join(host.root, 'registry'),
      auth: { htpasswd: { realm: 'test', path: join(host.root, 'htpasswd') } },
    });
    env = await helperEnv(host, await service(account.password));
    await symlink(HELPER_BINARY, join(host.root, 'bin', 'docker-credential-dstack'));
  });
  afterAll(async () => {
    for (const endpoint of endpoints) endpoint.kill('SIGTERM');
    await Promise.all(endpoints.map((e) => e.catch(() => {})));
    await Promise.all(servers.map((s) => s.close()));
    await registry?.stop();
    await host?.cleanup();
  });

  // A service whose credential for the registry carries `password`; the endpoint block as given.
  async function service(
    password: string,
    endpoint: unknown = { enabled: false, upstreams: [] },
  ): Promise<ContractServer> {
    const server = await startContractServer({
      credentials: { [registry.host]: { username: account.username, secret: password, ttlMs: 600_000 } },
      hostConfig: { mirrors: [registry.url], registries: [], endpoint },
    });
    servers.push(server);
    return server;
  }

  // The same host, its helper config pointed at `server`, its cache fresh.
  async function envFor(server: ContractServer, name: string): Promise<Record<string, string>> {
    const configPath = join(host.root, `${name}-config.json`);
    await writeFile(
      configPath,
      JSON.stringify({
        server: server.url,
        tokenFile: join(host.root, 'token'),
        cacheDir: join(host.root, `${name}-cache`),
      }),
    );
    return { ...env, DOCKER_CREDENTIAL_DSTACK_CONFIG: configPath };
  }

  // The real endpoint on a loopback port it picks; resolves with its URL once it listens.
  async function startEndpoint(endpointEnv: Record<string, string>): Promise<string> {
    const child = execa(HELPER_BINARY, ['mirror', '--listen', '127.0.0.1:0'], {
      env: endpointEnv,
      extendEnv: false,
      reject: false,
    });
    endpoints.push(child);
    let log = '';
    return new Promise((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        log += chunk;
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
        if (match) resolve(match[1]!);
      });
      void child.then(() => reject(new Error(`the endpoint exited: ${log}`)));
    });
  }

  const doctor = (extra: string[], runEnv = env) =>
    host.run(['doctor', ...doctorArgs(host, 'docker,containerd,podman'), ...extra], runEnv);
  const configure = (extra: string[], runEnv = env) =>
    host.run(['configure', ...host.pathArgs, '--engines', 'docker,containerd,podman', ...extra], runEnv);

  it("without the endpoint: a wrong password on the server fails the upstream check with the registry's answer", async () => {
    const wrong = await envFor(await service('not-the-password'), 'wrong');
    const result = await doctor([], wrong);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(
      new RegExp(
        `^fail upstream ${registry.url}: /v2/ answered HTTP 401 from this host: the upstream refused the credential from the dstack server \\(also a fresh one\\).*\\(fix: the registry refuses the credential the dstack server hands out for ${registry.host}: the operator must fix the password`,
        'm',
      ),
    );
    expect(result.stdout + result.stderr).not.toContain('not-the-password');
    expect(await registry.log()).toMatch(/mirror-user/);
  });

  it('with the endpoint: configure points every engine at it, doctor sees it answer, probes through it, finds every file', async () => {
    const endpoint = await startEndpoint(await envFor(servers[0]!, 'endpoint'));
    const configured = await configure([`--mirror-endpoint=${endpoint}`]);
    expect(configured.exitCode, configured.stderr).toBe(0);
    const result = await doctor([`--mirror-endpoint=${endpoint}`]);
    expect(result.stdout).toMatch(new RegExp(`^ok   mirror endpoint: ${endpoint} answers /healthz$`, 'm'));
    expect(result.stdout).toMatch(
      new RegExp(
        `^ok   upstream ${registry.url}: /v2/ answered HTTP 200 through ${endpoint}: the upstream accepts the credential`,
        'm',
      ),
    );
    for (const name of ['daemon\\.json', 'containerd hosts\\.toml', 'podman registries\\.conf\\.d']) {
      expect(result.stdout).toMatch(new RegExp(`^ok   ${name}: .* names ${endpoint}$`, 'm'));
    }
  });

  it('with the endpoint and a wrong password on the server: the probe through the endpoint fails with 401', async () => {
    const wrong = await envFor(await service('still-wrong'), 'endpoint-wrong');
    const endpoint = await startEndpoint(wrong);
    const result = await doctor([`--mirror-endpoint=${endpoint}`], wrong);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(
      new RegExp(
        `^fail upstream ${registry.url}: /v2/ answered HTTP 401 through ${endpoint}: the upstream refused the credential`,
        'm',
      ),
    );
    expect(result.stdout).not.toContain('still-wrong');
  });

  it('the endpoint enabled for the fleet but not running: fail with how to start it; the probe is skipped, not warned', async () => {
    const upstreams = [{ url: registry.url, registry: registry.host, library: 'keep' }];
    const fleet = await envFor(await service(account.password, { enabled: true, upstreams }), 'fleet');
    const result = await doctor([], fleet);
    expect(result.stdout).toMatch(
      /^fail mirror endpoint: nothing answers at http:\/\/127\.0\.0\.1:8484 \(ECONNREFUSED\): every pull falls back to Docker Hub \(fix: enable the socket: systemctl enable --now docker-credential-dstack-mirror\.socket/m,
    );
    expect(result.stdout).toMatch(/^skip upstream: the mirror endpoint does not answer$/m);
    // configure follows the same fleet default: the engines get the endpoint, not the mirror
    const dry = await configure(['--dry-run'], fleet);
    expect(dry.stdout).toContain(`mirrors ${registry.url} through the mirror endpoint http://127.0.0.1:8484;`);
    expect(dry.stdout).toContain(
      "note: engines use the mirror endpoint http://127.0.0.1:8484 (the server's fleet default)",
    );
    const off = await configure(['--dry-run', '--no-mirror-endpoint'], fleet);
    expect(off.stdout).toContain(
      `configuring from server ${servers.at(-1)!.url}: mirrors ${registry.url}; helper for https://index.docker.io/v1/, ${registry.host}`,
    );
  });

  it('drift: the running dockerd still has the mirror daemon.json no longer lists, and the other way round', async () => {
    const dockerInfo = (mirrors: string[]) =>
      `#!/bin/sh\necho '${JSON.stringify({ ServerVersion: '20.10.24', Driver: 'overlay2', DriverStatus: [], RegistryConfig: { Mirrors: mirrors } })}'\n`;
    // a tiny real `docker` that answers `docker info` as a dockerd that still runs with the mirror
    await writeFile(join(host.root, 'bin', 'docker'), dockerInfo([`${registry.url}/`]), { mode: 0o755 });
    await writeFile(host.daemonJson, '{\n  "debug": true\n}\n');
    const kept = await doctor([]);
    expect(kept.stdout).toMatch(
      new RegExp(
        `^fail dockerd mirrors: drift: the running dockerd uses ${registry.url}, but ${host.daemonJson} does not list it: a reload keeps it \\(the key is absent, so dockerd leaves its list alone\\), and the next restart drops it`,
        'm',
      ),
    );
    await writeFile(host.daemonJson, '{\n  "registry-mirrors": []\n}\n');
    expect((await doctor([])).stdout).toMatch(/drift: .* a reload drops it \(SIGHUP applies the file's list\)/);

    await writeFile(join(host.root, 'bin', 'docker'), dockerInfo([]), { mode: 0o755 });
    await writeFile(host.daemonJson, JSON.stringify({ 'registry-mirrors': [registry.url] }));
    const stale = await doctor([]);
    expect(stale.stdout).toMatch(
      new RegExp(
        `^fail dockerd mirrors: ${host.daemonJson} lists ${registry.url}, but the running dockerd uses no mirror: the file wins at the next reload or restart \\(fix: reload dockerd`,
        'm',
      ),
    );

    await writeFile(join(host.root, 'bin', 'docker'), dockerInfo([registry.url]), { mode: 0o755 });
    expect((await doctor([])).stdout).toMatch(
      new RegExp(`^ok   dockerd mirrors: docker info shows ${registry.url}, as ${host.daemonJson} does$`, 'm'),
    );
  });

  it('a podman drop-in that sorts after ours takes docker.io over: named', async () => {
    expect((await configure(['--no-mirror-endpoint'])).exitCode).toBe(0);
    await writeFile(
      join(host.registriesConf, '99-site.conf'),
      '[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n',
    );
    const result = await doctor([]);
    expect(result.stdout).toMatch(
      new RegExp(
        `^fail podman registries\\.conf\\.d: ${host.registriesConf}/99-site\\.conf does not name ${registry.url}; it sorts after 90-docker-credential-dstack\\.conf and decides docker\\.io`,
        'm',
      ),
    );
  });

  it('warns when this host can reach Docker Hub while a mirror is configured (a loopback listener stands in for it)', async () => {
    const hub: Server = createTcpServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => hub.listen(0, '127.0.0.1', resolve));
    try {
      const target = `127.0.0.1:${(hub.address() as { port: number }).port}`;
      const result = await doctor([], { ...env, DOCKER_CREDENTIAL_DSTACK_HUB_PROBE: target });
      expect(result.stdout).toContain(
        `warn docker hub fallback: this host reaches Docker Hub (${target}): when the mirror fails, the engines pull from Docker Hub instead, unnoticed (fix: to forbid the fallback, deny egress to Docker Hub`,
      );
    } finally {
      hub.close();
    }
  });

  it('a token path that is a directory says so', async () => {
    const dir = join(host.root, 'token-dir');
    await mkdir(dir, { mode: 0o755 });
    const configPath = join(host.root, 'dir-config.json');
    await writeFile(
      configPath,
      JSON.stringify({ server: servers[0]!.url, tokenFile: dir, cacheDir: join(host.root, 'dir-cache') }),
    );
    const result = await doctor([], { ...env, DOCKER_CREDENTIAL_DSTACK_CONFIG: configPath });
    expect(result.stdout).toMatch(new RegExp(`^fail token file: ${dir} is a directory, not a token file`, 'm'));
    expect(result.stdout).not.toContain('readable by others');
  });

  it('a server URL that is not dstack-registry-auth: the HTTP status it answered', async () => {
    let healthz = 404;
    const other = createHttpServer((req, res) =>
      res.writeHead(req.url === '/healthz' ? healthz : 404).end('<html>some other site</html>'),
    );
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
      const configPath = join(host.root, 'other-config.json');
      await writeFile(
        configPath,
        JSON.stringify({ server: url, tokenFile: join(host.root, 'token'), cacheDir: join(host.root, 'other-cache') }),
      );
      const result = await doctor([], { ...env, DOCKER_CREDENTIAL_DSTACK_CONFIG: configPath });
      expect(result.stdout).toMatch(
        /^fail server: .* answers \/healthz with HTTP 404: it does not look like dstack-registry-auth \(fix: check the server URL/m,
      );
      healthz = 200;
      const ok200 = await doctor([], { ...env, DOCKER_CREDENTIAL_DSTACK_CONFIG: configPath });
      expect(ok200.stdout).toMatch(
        /^fail server: .* answers \/healthz with HTTP 200, but not with the answer of dstack-registry-auth: it does not look like dstack-registry-auth/m,
      );
    } finally {
      other.close();
    }
  });

  it('never prints the registry password', async () => {
    const result = await doctor([]);
    expect(result.stdout + result.stderr).not.toContain(account.password);
    expect(await readFile(host.daemonJson, 'utf8')).not.toContain(account.password);
  });
});
