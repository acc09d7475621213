import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { access, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { startContractServer, type ContractServer } from '../../../helpers/contract-server.ts';
import { freeLoopbackPort } from '../../../helpers/free-port.ts';
import { fakeHost, type FakeHost } from '../../../helpers/setup-fixture.ts';
import { doctorArgs, helperEnv } from '../../../helpers/doctor-fixture.ts';

// Debian 12's containerd 1.6 config (version 2, no registry table) and containerd 2.1's stock
// one (version 3, `config_path = ''`): CRI reads certs.d in neither until configure sets the key.
const DEBIAN_V2 =
  'version = 2\n\n[plugins]\n  [plugins."io.containerd.grpc.v1.cri"]\n    [plugins."io.containerd.grpc.v1.cri".cni]\n      bin_dir = "/usr/lib/cni"\n      conf_dir = "/etc/cni/net.d"\n  [plugins."io.containerd.internal.v1.opt"]\n    path = "/var/lib/containerd/opt"\n';
const STOCK_V3 =
  "version = 3\nroot = '/var/lib/containerd'\n\n[plugins]\n  [plugins.'io.containerd.cri.v1.images']\n    snapshotter = 'overlayfs'\n\n    [plugins.'io.containerd.cri.v1.images'.registry]\n      config_path = ''\n\n    [plugins.'io.containerd.cri.v1.images'.image_decryption]\n      key_model = 'node'\n";
const V21 = 'containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376';
const REAL_CONTAINERD = '/usr/bin/containerd';

let host: FakeHost;
let mirror: string;
let server: ContractServer;
let env: Record<string, string>;
beforeAll(async () => {
  mirror = `http://127.0.0.1:${await freeLoopbackPort()}`;
  server = await startContractServer({ hostConfig: { mirrors: [mirror], registries: [] } });
});
afterAll(async () => {
  await server?.close();
});
beforeEach(async () => {
  host = await fakeHost();
  env = await helperEnv(host, server);
});
afterEach(async () => {
  await host.cleanup();
});

// A stand-in `containerd` first on PATH that only answers --version (a real one is used below
// where its config parser matters).
async function containerdSays(version: string): Promise<void> {
  const path = join(host.root, 'bin', 'containerd');
  await writeFile(path, `#!/bin/sh\necho '${version}'\n`);
  await chmod(path, 0o755);
}

async function put(path: string, text: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
}

const configure = (...extra: string[]) =>
  host.run(['configure', ...host.pathArgs, '--engines', 'containerd', '--mirror', mirror, ...extra], env);
const unconfigure = () => host.run(['unconfigure', '--state-dir', host.stateDir, '--no-reload'], env);
const doctor = () => host.run(['doctor', ...doctorArgs(host, 'docker,containerd'), '--no-mirror-endpoint'], env);
// The host's files but the helper's cache, which doctor fills.
const files = async () =>
  Object.fromEntries(Object.entries(await host.snapshot()).filter(([path]) => !path.startsWith('cache')));
const line = (out: string, name: string) => out.split('\n').find((l) => l.slice(5).startsWith(`${name}: `));

describe("configure points containerd's CRI at certs.d (config.toml, both versions)", () => {
  it('a version 2 config: the table added, accepted by the real containerd, doctor agrees; unconfigure restores it byte for byte', async () => {
    await put(host.containerdConfig, DEBIAN_V2);
    const start = await files();
    const before = await doctor();
    expect(line(before.stdout, 'containerd CRI')).toMatch(
      new RegExp(
        `^fail containerd CRI: ${host.containerdConfig}: \\[plugins\\.io\\.containerd\\.grpc\\.v1\\.cri\\.registry\\] config_path is not set, so CRI \\(containerd .*\\) reads no hosts\\.toml and its pulls go straight to Docker Hub \\(fix: run docker-credential-dstack configure \\(it sets config_path\\), then systemctl restart containerd\\)$`,
      ),
    );

    const result = await configure();
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      `containerd config ${host.containerdConfig}: updated (CRI config_path = ${host.containerdCerts})`,
    );
    expect(result.stdout).toMatch(
      /^containerd: restart it for CRI to read the new config_path: systemctl restart containerd$/m,
    );
    const text = await readFile(host.containerdConfig, 'utf8');
    expect(text.startsWith(DEBIAN_V2)).toBe(true);
    expect(text).toContain(
      `[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${host.containerdCerts}"\n`,
    );
    if (
      await access(REAL_CONTAINERD).then(
        () => true,
        () => false,
      )
    ) {
      const dump = await execa(REAL_CONTAINERD, ['--config', host.containerdConfig, 'config', 'dump'], {
        reject: false,
      });
      expect(dump.exitCode, dump.stderr).toBe(0);
      expect(dump.stdout).toContain(`config_path = "${host.containerdCerts}"`);
    } else if (process.env.CI === 'true')
      throw new Error(`${REAL_CONTAINERD} is missing: the e2e stage installs containerd`);

    expect(line((await doctor()).stdout, 'containerd CRI')).toMatch(
      new RegExp(
        `^ok   containerd CRI: ${host.containerdCerts}/docker\\.io/hosts\\.toml names ${mirror} \\(CRI reads ${host.containerdCerts} as`,
      ),
    );
    expect((await configure()).stdout).toContain('already configured: nothing changed');

    const undo = await unconfigure();
    expect(undo.exitCode, undo.stderr).toBe(0);
    expect(undo.stdout).toMatch(
      /^containerd: restart it for CRI to stop reading our config_path: systemctl restart containerd$/m,
    );
    expect(await files()).toEqual(start);
  });

  it("containerd 2.1's stock version 3 config (config_path = ''): that line replaced; edited since, unconfigure puts back only it", async () => {
    await containerdSays(V21);
    await put(host.containerdConfig, STOCK_V3);
    expect(line((await doctor()).stdout, 'containerd CRI')).toMatch(
      /^fail containerd CRI: .*config_path is empty, so CRI \(containerd 2\.1\.4\) reads no hosts\.toml/,
    );
    const result = await configure();
    expect(result.exitCode, result.stderr).toBe(0);
    const text = await readFile(host.containerdConfig, 'utf8');
    expect(text).not.toContain("      config_path = ''\n");
    expect(text).toContain(`# replaces: config_path = ''\n      config_path = "${host.containerdCerts}"\n`);
    expect(line((await doctor()).stdout, 'containerd CRI')).toMatch(/^ok {3}containerd CRI: /);

    // someone edits the file after configure: only our block goes, their line comes back
    await writeFile(host.containerdConfig, `${text}\n[plugins.'io.containerd.grpc.v1.cri']\n  enable_cdi = true\n`);
    expect((await unconfigure()).exitCode).toBe(0);
    expect(await readFile(host.containerdConfig, 'utf8')).toBe(
      `${STOCK_V3}\n[plugins.'io.containerd.grpc.v1.cri']\n  enable_cdi = true\n`,
    );
  });

  it('no config.toml: created with the version the installed containerd reads (3 from 2.0, else 2), removed by unconfigure', async () => {
    const start = await files();
    expect((await configure()).exitCode).toBe(0);
    const old = await readFile(host.containerdConfig, 'utf8');
    expect(old).toContain(
      `version = 2\n\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${host.containerdCerts}"\n`,
    );
    expect((await unconfigure()).exitCode).toBe(0);
    expect(await files()).toEqual(start);

    await containerdSays(V21);
    const withBin = await files();
    expect((await configure()).exitCode).toBe(0);
    expect(await readFile(host.containerdConfig, 'utf8')).toContain(
      `version = 3\n\n[plugins."io.containerd.cri.v1.images".registry]\n  config_path = "${host.containerdCerts}"\n`,
    );
    expect((await unconfigure()).exitCode).toBe(0);
    expect(await files()).toEqual(withBin);
  });

  it('config_path already names another directory: config.toml is left alone, hosts.toml goes where CRI looks', async () => {
    const other = join(host.root, 'site-certs.d');
    const config = `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${other}"\n`;
    await put(host.containerdConfig, config);
    const start = await files();
    const result = await configure();
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(`containerd config ${host.containerdConfig}: already configured`);
    expect(result.stdout).not.toMatch(/systemctl restart containerd/);
    expect(await readFile(host.containerdConfig, 'utf8')).toBe(config);
    expect(await readFile(join(other, 'docker.io', 'hosts.toml'), 'utf8')).toContain(`[host."${mirror}"]`);
    expect(line((await doctor()).stdout, 'containerd CRI')).toMatch(
      new RegExp(`^ok   containerd CRI: ${other}/docker\\.io/hosts\\.toml names ${mirror}`),
    );
    expect((await unconfigure()).exitCode).toBe(0);
    expect(await files()).toEqual(start);
  });

  it("Docker's containerd.io config (CRI disabled, no version line): left alone, configure succeeds, doctor skips", async () => {
    const dockerCe =
      '#   Copyright 2018-2022 Docker Inc.\n\ndisabled_plugins = ["cri"]\n\n#root = "/var/lib/containerd"\n';
    await put(host.containerdConfig, dockerCe);
    const result = await configure();
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(`containerd config ${host.containerdConfig}: already configured`);
    expect(await readFile(host.containerdConfig, 'utf8')).toBe(dockerCe);
    expect(line((await doctor()).stdout, 'containerd CRI')).toBe(
      `skip containerd CRI: CRI is disabled in ${host.containerdConfig} (disabled_plugins): nothing pulls through it`,
    );
  });

  it.each([
    [
      'a version 1 config',
      '[plugins.cri.registry]\n  config_path = ""\n',
      /has no `version` line, so containerd reads it as a version 1 config/,
    ],
    [
      'deprecated registry mirrors',
      'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n  endpoint = ["https://m.example"]\n',
      /deprecated registry mirrors .* containerd refuses config_path next to them/,
    ],
  ])('%s: refused in one line, nothing written anywhere', async (_, config, why) => {
    await put(host.containerdConfig, config);
    const start = await files();
    const result = await configure();
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(why);
    expect(await files()).toEqual(start);
  });
});

describe("doctor reads dockerd's certs.d/docker.io/hosts.toml", () => {
  it('one naming another mirror fails and names the file; ours listed is ok; absent is ok', async () => {
    const path = join(host.dockerCerts, 'docker.io', 'hosts.toml');
    expect(line((await doctor()).stdout, 'docker certs.d hosts.toml')).toBe(
      `ok   docker certs.d hosts.toml: ${path} is absent: dockerd uses registry-mirrors on either image store`,
    );
    await put(
      path,
      'server = "https://registry-1.docker.io"\n\n[host."https://other-mirror.example"]\n  capabilities = ["pull", "resolve"]\n',
    );
    const result = await doctor();
    expect(result.exitCode).toBe(1);
    expect(line(result.stdout, 'docker certs.d hosts.toml')).toBe(
      `fail docker certs.d hosts.toml: ${path} does not name ${mirror}: on the containerd image store it replaces registry-mirrors, so Docker Hub pulls go to https://other-mirror.example (fix: run docker-credential-dstack configure, or remove the other mirror from that file)`,
    );
    await put(path, `[host."${mirror}"]\n  capabilities = ["pull", "resolve"]\n`);
    expect(line((await doctor()).stdout, 'docker certs.d hosts.toml')).toBe(
      `ok   docker certs.d hosts.toml: ${path} names ${mirror}`,
    );
  });

  it('configure with the mirror endpoint writes it whatever store docker info reports (no dockerd here)', async () => {
    const result = await host.run(
      [
        'configure',
        ...host.pathArgs,
        '--engines',
        'docker',
        '--mirror',
        mirror,
        `--mirror-endpoint=http://127.0.0.1:${await freeLoopbackPort()}`,
      ],
      env,
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await readFile(join(host.dockerCerts, 'docker.io', 'hosts.toml'), 'utf8')).toMatch(
      /\[host\."http:\/\/127\.0\.0\.1:\d+"\]/,
    );
  });
});

describe('doctor names where the server setting came from', () => {
  it('the config file, or the variable (and then whether the file exists at all)', async () => {
    const fromFile = await doctor();
    expect(line(fromFile.stdout, 'helper config')).toBe(
      `ok   helper config: server ${server.url} (from ${env.DOCKER_CREDENTIAL_DSTACK_CONFIG})`,
    );
    const defaultPath = '/etc/docker-credential-dstack/config.json';
    const exists = await access(defaultPath).then(
      () => true,
      () => false,
    );
    const fromEnv = await host.run(['doctor', ...doctorArgs(host, 'containerd'), '--no-mirror-endpoint'], {
      ...env,
      DOCKER_CREDENTIAL_DSTACK_CONFIG: '',
      DOCKER_CREDENTIAL_DSTACK_SERVER: server.url,
      DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: join(host.root, 'token'),
      // Without a config file the cache would be root's default, /run/docker-credential-dstack.
      DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: join(host.root, 'env-cache'),
    });
    expect(line(fromEnv.stdout, 'helper config')).toBe(
      `ok   helper config: server ${server.url} (from DOCKER_CREDENTIAL_DSTACK_SERVER; ${exists ? `other settings from ${defaultPath}` : `no ${defaultPath}`})`,
    );
  });
});
