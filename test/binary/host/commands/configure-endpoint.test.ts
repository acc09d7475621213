import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fakeHost, type FakeHost } from '../../../helpers/setup-fixture.ts';
import { freeLoopbackPort } from '../../../helpers/free-port.ts';

const MIRROR = 'https://mirror.example';
const ENGINES = ['--engines', 'docker,containerd,podman'];
const HUB = 'https://index.docker.io/v1/';

// configure/unconfigure pointing the engines at the host-local mirror endpoint instead of the mirror.
describe('configure --mirror-endpoint', () => {
  let host: FakeHost;
  let endpoint: string;
  beforeEach(async () => {
    host = await fakeHost();
    // A loopback port nothing listens on (bound, then closed), unless a test starts a listener.
    endpoint = `http://127.0.0.1:${await freeLoopbackPort()}`;
  });
  afterEach(async () => {
    await host.cleanup();
  });

  const configure = (...extra: string[]) =>
    host.run(['configure', ...host.pathArgs, ...ENGINES, '--mirror', MIRROR, ...extra]);
  const unconfigure = () => host.run(['unconfigure', '--state-dir', host.stateDir, '--no-reload']);
  const hostsToml = () => join(host.containerdCerts, 'docker.io', 'hosts.toml');
  const dropIn = () => join(host.registriesConf, '90-docker-credential-dstack.conf');

  it('names the endpoint, not the mirror, in every engine file; no Docker Hub credHelper; unconfigure restores byte for byte', async () => {
    await put(
      host.daemonJson,
      '{\n    "default-runtime": "nvidia",\n    "registry-mirrors": ["https://theirs.example"]\n}\n',
      0o640,
    );
    await put(join(host.dockerConfig, 'config.json'), '{\n\t"auths": {}\n}\n', 0o600);
    const start = await host.snapshot();

    const dry = await configure(`--mirror-endpoint=${endpoint}`, '--dry-run');
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      `configuring from command line: mirrors ${MIRROR} through the mirror endpoint ${endpoint}; helper for mirror.example; engines docker, containerd, podman`,
    );
    // Only the list changes, in the layout it already had (the rest of the file stays byte for byte).
    expect(dry.stdout).toContain(`+    "registry-mirrors": ["https://theirs.example", "${endpoint}"]\n`);
    expect(await host.snapshot()).toEqual(start);

    const result = await configure(`--mirror-endpoint=${endpoint}`);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(await readFile(host.daemonJson, 'utf8'))).toEqual({
      'default-runtime': 'nvidia',
      'registry-mirrors': ['https://theirs.example', endpoint],
    });
    expect(await readFile(hostsToml(), 'utf8')).toContain(`[host."${endpoint}"]\n  capabilities = ["pull", "resolve"]`);
    expect(await readFile(dropIn(), 'utf8')).toContain(
      `[[registry.mirror]]\nlocation = "${endpoint.slice('http://'.length)}"\ninsecure = true\n`,
    );
    for (const path of [host.daemonJson, hostsToml(), dropIn()])
      expect(await readFile(path, 'utf8')).not.toContain('mirror.example');
    expect(JSON.parse(await readFile(join(host.dockerConfig, 'config.json'), 'utf8')).credHelpers).toEqual({
      'mirror.example': 'dstack',
    });
    // nothing listens there: said plainly, not failed (the socket unit may not be enabled yet)
    expect(result.stderr).toContain(
      `warning: nothing answers at ${endpoint}/healthz yet: until the endpoint runs, every pull falls back to Docker Hub`,
    );
    expect(result.stdout).toMatch(/^configured$/m);

    expect((await unconfigure()).exitCode).toBe(0);
    expect(await host.snapshot()).toEqual(start);
  });

  it('switching a configured host from the mirror to the endpoint and back takes our old entries out; unconfigure restores the original', async () => {
    await put(host.daemonJson, '{\n  "debug": true\n}\n');
    const start = await host.snapshot();
    expect((await configure()).exitCode).toBe(0);
    expect(JSON.parse(await readFile(join(host.dockerConfig, 'config.json'), 'utf8')).credHelpers).toEqual({
      [HUB]: 'dstack',
      'mirror.example': 'dstack',
    });

    const toEndpoint = await configure(`--mirror-endpoint=${endpoint}`);
    expect(toEndpoint.exitCode, toEndpoint.stderr).toBe(0);
    expect(toEndpoint.stdout).toContain(`no longer ${MIRROR}`);
    expect(JSON.parse(await readFile(host.daemonJson, 'utf8'))).toEqual({
      debug: true,
      'registry-mirrors': [endpoint],
    });
    expect(JSON.parse(await readFile(join(host.dockerConfig, 'config.json'), 'utf8')).credHelpers).toEqual({
      'mirror.example': 'dstack',
    });
    expect(await readFile(hostsToml(), 'utf8')).not.toContain(MIRROR);
    expect(await readFile(dropIn(), 'utf8')).not.toContain('location = "mirror.example"');
    // dockerd's containerd-store file too, though this host has no containerd store (issue 16)
    const dockerHosts = join(host.dockerCerts, 'docker.io', 'hosts.toml');
    expect(await readFile(dockerHosts, 'utf8')).toContain(`[host."${endpoint}"]`);

    const back = await configure('--no-mirror-endpoint');
    expect(back.exitCode, back.stderr).toBe(0);
    expect(JSON.parse(await readFile(host.daemonJson, 'utf8'))).toEqual({ debug: true, 'registry-mirrors': [MIRROR] });
    expect(JSON.parse(await readFile(join(host.dockerConfig, 'config.json'), 'utf8')).credHelpers).toEqual({
      [HUB]: 'dstack',
      'mirror.example': 'dstack',
    });
    expect(await readFile(hostsToml(), 'utf8')).not.toContain(endpoint);
    // ...and once written it follows the switch back, so a later store switch uses the mirror
    expect(await readFile(dockerHosts, 'utf8')).toContain(`[host."${MIRROR}"]`);
    expect(await readFile(dockerHosts, 'utf8')).not.toContain(endpoint);

    expect((await unconfigure()).exitCode).toBe(0);
    expect(await host.snapshot()).toEqual(start);
  });

  it('no warning when the endpoint answers /healthz', async () => {
    const server = await listen((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end('{"status":"ok"}'));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const result = await configure(`--mirror-endpoint=${url}`);
      expect(result.exitCode).toBe(0);
      expect(result.stderr).toBe('');
    } finally {
      server.close();
    }
  });

  it('a bare --mirror-endpoint is the default loopback address', async () => {
    const result = await configure('--mirror-endpoint', '--dry-run');
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('through the mirror endpoint http://127.0.0.1:8484;');
    expect(result.stdout).toContain('+    "http://127.0.0.1:8484"\n');
  });

  it.each([
    ['https://127.0.0.1:8484', /serves plain http on loopback/],
    ['http://10.0.0.5:8484', /use a loopback address/],
    ['http://127.0.0.1', /the port is missing/],
    ['http://127.0.0.1:8484/v2', /a path is not allowed/],
    ['http://user:hunter2@127.0.0.1:8484', /credentials in the URL are not allowed/],
  ])('refuses --mirror-endpoint=%s before writing anything', async (url, message) => {
    const result = await configure(`--mirror-endpoint=${url}`);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toContain('hunter2');
    expect(await host.snapshot()).toEqual({});
  });

  it('hides a password holding "/" in the refusal (the one redaction rule)', async () => {
    const result = await configure('--mirror-endpoint=http://user:hun/ter2@127.0.0.1:8484');
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('--mirror-endpoint: invalid mirror endpoint URL "http://***@127.0.0.1:8484": ');
    expect(result.stderr).not.toMatch(/hun|ter2/);
    expect(await host.snapshot()).toEqual({});
  });
});

async function put(path: string, text: string, mode = 0o644): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text, { mode });
  await chmod(path, mode);
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<Server> {
  const server = createServer(handler!);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
