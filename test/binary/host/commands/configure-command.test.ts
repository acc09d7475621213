import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, readFile, symlink, writeFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { fakeHost, type FakeHost } from '../../../helpers/setup-fixture.ts';
import { makeReadOnly } from '../../../helpers/read-only-dir.ts';

const MIRROR = 'https://mirror.example';
const ENGINES = ['--engines', 'docker,containerd,podman'];
const HUB = 'https://index.docker.io/v1/';

let host: FakeHost;
beforeEach(async () => {
  host = await fakeHost();
});
afterEach(async () => {
  await host.cleanup();
});

const configure = (...extra: string[]) =>
  host.run(['configure', ...host.pathArgs, ...ENGINES, '--mirror', MIRROR, ...extra]);
const unconfigure = (...extra: string[]) =>
  host.run(['unconfigure', '--state-dir', host.stateDir, '--no-reload', ...extra]);

async function put(path: string, text: string, mode = 0o644): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text, { mode });
  await chmod(path, mode);
}

describe('configure through the binary', () => {
  it('--dry-run prints a diff per file and changes nothing', async () => {
    await put(host.daemonJson, '{\n  "log-driver": "json-file"\n}\n');
    const start = await host.snapshot();
    const result = await configure('--dry-run');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(`--- a${host.daemonJson}\n+++ b${host.daemonJson}\n`);
    expect(result.stdout).toContain(
      '-  "log-driver": "json-file"\n+  "log-driver": "json-file",\n+  "registry-mirrors": [\n+    "https://mirror.example"\n+  ]\n',
    );
    expect(result.stdout).toContain(`+++ b${join(host.dockerConfig, 'config.json')}`);
    expect(result.stdout).toContain(`+++ b${join(host.containerdCerts, 'docker.io', 'hosts.toml')}`);
    expect(result.stdout).toContain(`+++ b${join(host.registriesConf, '90-docker-credential-dstack.conf')}`);
    expect(result.stdout).toContain('dry run: nothing was changed');
    expect(await host.snapshot()).toEqual(start);
  });

  it('on a bare host: creates every file, a second run changes nothing, unconfigure leaves the host as it was', async () => {
    const start = await host.snapshot();
    const first = await configure();
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toMatch(/^configured$/m);
    const config = JSON.parse(await readFile(join(host.dockerConfig, 'config.json'), 'utf8'));
    expect(config).toEqual({ credHelpers: { [HUB]: 'dstack', 'mirror.example': 'dstack' } });
    expect((await lstat(join(host.dockerConfig, 'config.json'))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(host.daemonJson, 'utf8'))).toEqual({ 'registry-mirrors': [MIRROR] });
    expect(await readFile(join(host.containerdCerts, 'docker.io', 'hosts.toml'), 'utf8')).toContain(
      '[host."https://mirror.example"]\n  capabilities = ["pull", "resolve"]',
    );
    expect(await readFile(join(host.registriesConf, '90-docker-credential-dstack.conf'), 'utf8')).toContain(
      '[[registry.mirror]]\nlocation = "mirror.example"',
    );

    const configured = await host.snapshot();
    const second = await configure();
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toContain('already configured: nothing changed');
    expect(await host.snapshot()).toEqual(configured);

    const undo = await unconfigure();
    expect(undo.exitCode).toBe(0);
    expect(await host.snapshot()).toEqual(start);
  });

  const existing: Array<{ name: string; files: Record<string, string> }> = [
    { name: 'empty files', files: { config: '', daemon: '', hosts: '', dropIn: '' } },
    {
      name: 'files with unrelated keys',
      files: {
        config:
          '{\n\t"auths": {\n\t\t"ghcr.io": {\n\t\t\t"auth": "dTpw"\n\t\t}\n\t},\n\t"credHelpers": {\n\t\t"gcr.io": "gcloud"\n\t}\n}',
        daemon:
          '{\n    "default-runtime": "nvidia",\n    "runtimes": {"nvidia": {"path": "nvidia-container-runtime", "args": []}},\n    "exec-opts": ["native.cgroupdriver=systemd"],\n    "log-opts": {"max-size": "10m"}\n}\n',
        hosts:
          '# site file\nserver = "https://registry-1.docker.io"\n\n[host."https://other-mirror.example"]\n  capabilities = ["pull", "resolve"]\n',
        dropIn: '[[registry]]\nlocation = "quay.io"\n',
      },
    },
    {
      name: 'files with our entries already present',
      files: {
        config: `{\n\t"credHelpers": {\n\t\t"${HUB}": "dstack",\n\t\t"mirror.example": "dstack"\n\t}\n}\n`,
        daemon: '{"registry-mirrors": ["https://mirror.example/"]}\n',
        hosts:
          'server = "https://registry-1.docker.io"\n[host."https://mirror.example"]\ncapabilities = ["pull", "resolve"]\n',
        dropIn: '',
      },
    },
  ];
  for (const c of existing) {
    it(`${c.name}: kept, merged, idempotent, restored byte for byte`, async () => {
      await put(join(host.dockerConfig, 'config.json'), c.files.config!, 0o600);
      await put(host.daemonJson, c.files.daemon!, 0o640);
      await put(join(host.containerdCerts, 'docker.io', 'hosts.toml'), c.files.hosts!);
      await put(join(host.registriesConf, '90-docker-credential-dstack.conf'), c.files.dropIn!);
      const start = await host.snapshot();
      const first = await configure();
      expect(first.exitCode, first.stderr).toBe(0);
      const config = JSON.parse(await readFile(join(host.dockerConfig, 'config.json'), 'utf8'));
      expect(config.credHelpers).toMatchObject({ [HUB]: 'dstack', 'mirror.example': 'dstack' });
      const daemon = JSON.parse(await readFile(host.daemonJson, 'utf8'));
      expect(daemon['registry-mirrors'].map((m: string) => m.replace(/\/$/, ''))).toEqual([MIRROR]);
      if (c.files.daemon!.includes('nvidia')) {
        expect(daemon).toMatchObject({
          'default-runtime': 'nvidia',
          runtimes: { nvidia: { path: 'nvidia-container-runtime', args: [] } },
          'log-opts': { 'max-size': '10m' },
        });
        expect(config.auths).toEqual({ 'ghcr.io': { auth: 'dTpw' } });
        expect(await readFile(join(host.containerdCerts, 'docker.io', 'hosts.toml'), 'utf8')).toMatch(
          /^# site file\n[\s\S]*other-mirror[\s\S]*\[host\."https:\/\/mirror\.example"\]/,
        );
      }
      expect((await lstat(host.daemonJson)).mode & 0o777).toBe(0o640);
      const configured = await host.snapshot();
      expect((await configure()).stdout).toContain('already configured: nothing changed');
      expect(await host.snapshot()).toEqual(configured);
      expect((await unconfigure()).exitCode).toBe(0);
      expect(await host.snapshot()).toEqual(start);
    });
  }

  const invalid: Array<{ name: string; path: () => string; text: string; message: RegExp }> = [
    {
      name: 'client config.json',
      path: () => join(host.dockerConfig, 'config.json'),
      text: '{"credHelpers": {',
      message: /config\.json is not valid JSON/,
    },
    {
      name: 'daemon.json',
      path: () => host.daemonJson,
      text: '{"log-driver": "json-file",}',
      message: /daemon\.json is not valid JSON/,
    },
    {
      name: 'hosts.toml',
      path: () => join(host.containerdCerts, 'docker.io', 'hosts.toml'),
      text: 'server = "https://x\n',
      message: /hosts\.toml is not valid TOML \(line 1/,
    },
    {
      name: 'registries.conf drop-in',
      path: () => join(host.registriesConf, '90-docker-credential-dstack.conf'),
      text: '[[registry]\n',
      message: /is not valid TOML/,
    },
  ];
  for (const c of invalid) {
    it(`refuses an invalid ${c.name} and writes nothing anywhere`, async () => {
      await put(c.path(), c.text);
      const start = await host.snapshot();
      const result = await configure();
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(c.message);
      expect(result.stderr).toContain('nothing was changed');
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(await host.snapshot()).toEqual(start);
    });
  }

  it('a reader that goes away (configure --dry-run | head): one line on stderr, no stack trace', async () => {
    const { execa } = await import('execa');
    const { HELPER_BINARY } = await import('../../../helpers/setup-fixture.ts');
    const quoted = [HELPER_BINARY, 'configure', ...host.pathArgs, ...ENGINES, '--mirror', MIRROR, '--dry-run']
      .map((a) => `'${a}'`)
      .join(' ');
    const result = await execa('sh', ['-c', `${quoted} | head -c 10 >/dev/null`], {
      reject: false,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DOCKER_HOST: `unix://${host.root}/no.sock` },
      extendEnv: false,
    });
    expect(result.stderr).not.toMatch(/\n\s+at |node:events|Unhandled/);
    expect(result.stderr).toMatch(/^(docker-credential-dstack configure: write EPIPE\n?)?$/);
  });

  it('--registry alone works without a server: only credHelpers, no engine file', async () => {
    await put(join(host.root, 'empty-config.json'), '{}\n');
    const result = await host.run(['configure', ...host.pathArgs, ...ENGINES, '--registry', 'Reg.Example:5000'], {
      DOCKER_CREDENTIAL_DSTACK_CONFIG: join(host.root, 'empty-config.json'),
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('configuring from command line: mirrors (none); helper for reg.example:5000');
    expect(JSON.parse(await readFile(join(host.dockerConfig, 'config.json'), 'utf8'))).toEqual({
      credHelpers: { 'reg.example:5000': 'dstack' },
    });
    await expect(lstat(host.daemonJson)).rejects.toThrow(/ENOENT/);
  });

  it('a read-only directory: a clear error and no file half-written', async () => {
    const dir = join(host.daemonJson, '..');
    await put(host.daemonJson, '{}\n');
    const start = await host.snapshot();
    const unlock = await makeReadOnly(dir);
    try {
      const result = await configure();
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(
        /cannot write Docker daemon config .*daemon\.json \((EACCES|EPERM)\).*nothing was changed/,
      );
    } finally {
      await unlock();
    }
    expect(await host.snapshot()).toEqual(start);
  });

  const everyFile: Array<{ label: string; path: () => string; text: string; mode: number }> = [
    {
      label: 'Docker client config',
      path: () => join(host.dockerConfig, 'config.json'),
      text: '{\n\t"psFormat": "table"\n}\n',
      mode: 0o600,
    },
    { label: 'Docker daemon config', path: () => host.daemonJson, text: '{\n  "debug": true\n}\n', mode: 0o644 },
    {
      label: 'containerd hosts.toml',
      path: () => join(host.containerdCerts, 'docker.io', 'hosts.toml'),
      text: '# site file\n',
      mode: 0o644,
    },
    {
      label: 'containers registries.conf drop-in',
      path: () => join(host.registriesConf, '90-docker-credential-dstack.conf'),
      text: '# site file\n',
      mode: 0o644,
    },
  ];
  for (const f of everyFile) {
    it(`${f.label} in a read-only directory: refused before any file on the host is written`, async () => {
      for (const other of everyFile) await put(other.path(), other.text, other.mode);
      const start = await host.snapshot();
      const unlock = await makeReadOnly(join(f.path(), '..'));
      try {
        const result = await configure();
        expect(result.exitCode).toBe(1);
        expect(result.stderr).toContain(`cannot write ${f.label} ${f.path()} (`);
        expect(result.stderr).toMatch(/nothing was changed/);
      } finally {
        await unlock();
      }
      expect(await host.snapshot()).toEqual(start);
    });

    it(`${f.label} as a symlink: written through the link, the link kept, restored by unconfigure`, async () => {
      const real = join(host.root, 'volume', `real-${f.label.replace(/\W+/g, '-')}`);
      await put(real, f.text, f.mode);
      await mkdir(join(f.path(), '..'), { recursive: true });
      await symlink(real, f.path());
      const start = await host.snapshot();
      const result = await configure();
      expect(result.exitCode, result.stderr).toBe(0);
      expect((await lstat(f.path())).isSymbolicLink()).toBe(true);
      expect(await readFile(real, 'utf8')).not.toBe(f.text);
      expect(await readFile(real, 'utf8')).toContain('mirror.example');
      expect((await lstat(real)).mode & 0o777).toBe(f.mode);
      expect((await unconfigure()).exitCode).toBe(0);
      expect(await host.snapshot()).toEqual(start);
    });
  }

  it('a symlinked daemon.json is written through to its target and restored; a dangling link is refused', async () => {
    const real = join(host.root, 'volume', 'daemon.json');
    await put(real, '{\n  "debug": true\n}\n');
    await mkdir(join(host.daemonJson, '..'), { recursive: true });
    await symlink(real, host.daemonJson);
    const start = await host.snapshot();
    expect((await configure()).exitCode).toBe(0);
    expect((await lstat(host.daemonJson)).isSymbolicLink()).toBe(true);
    expect(JSON.parse(await readFile(real, 'utf8'))).toEqual({ debug: true, 'registry-mirrors': [MIRROR] });
    expect((await unconfigure()).exitCode).toBe(0);
    expect(await host.snapshot()).toEqual(start);

    const dangling = join(host.root, 'etc-docker', 'dangling.json');
    await symlink(join(host.root, 'missing.json'), dangling);
    const refused = await host.run([
      'configure',
      ...host.pathArgs,
      '--daemon-json',
      dangling,
      '--engines',
      'docker',
      '--mirror',
      MIRROR,
    ]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/symlink to a missing file/);
  });

  it('unconfigure after others edited the files removes only our entries', async () => {
    await put(host.daemonJson, '{\n  "debug": true\n}\n');
    expect((await configure()).exitCode).toBe(0);
    const daemon = JSON.parse(await readFile(host.daemonJson, 'utf8'));
    daemon['registry-mirrors'].unshift('https://theirs.example');
    daemon['log-level'] = 'warn';
    await writeFile(host.daemonJson, `${JSON.stringify(daemon, null, 2)}\n`);
    const hosts = join(host.containerdCerts, 'docker.io', 'hosts.toml');
    await writeFile(
      hosts,
      `${await readFile(hosts, 'utf8')}\n[host."https://theirs.example"]\n  capabilities = ["pull"]\n`,
    );
    expect((await unconfigure()).exitCode).toBe(0);
    expect(JSON.parse(await readFile(host.daemonJson, 'utf8'))).toEqual({
      debug: true,
      'registry-mirrors': ['https://theirs.example'],
      'log-level': 'warn',
    });
    const left = await readFile(hosts, 'utf8');
    expect(left).not.toContain('mirror.example');
    expect(left).toContain('[host."https://theirs.example"]');
    await expect(lstat(`${host.daemonJson}.dstack-backup`)).rejects.toThrow();
  });

  it('a credHelpers entry naming another helper: kept with a warning and exit 1; replaced with --force and restored by unconfigure', async () => {
    const original = `{\n\t"credHelpers": {\n\t\t"${HUB}": "ecr-login"\n\t},\n\t"credsStore": "pass"\n}\n`;
    await put(join(host.dockerConfig, 'config.json'), original, 0o600);
    const soft = await configure();
    expect(soft.exitCode).toBe(1);
    expect(soft.stderr).toMatch(
      /credHelpers\["https:\/\/index\.docker\.io\/v1\/"\] is "ecr-login"; left as it is \(rerun with --force/,
    );
    expect(soft.stderr).toMatch(/credsStore "pass"/);
    expect(JSON.parse(await readFile(join(host.dockerConfig, 'config.json'), 'utf8')).credHelpers[HUB]).toBe(
      'ecr-login',
    );
    const forced = await configure('--force');
    expect(forced.exitCode).toBe(0);
    expect(JSON.parse(await readFile(join(host.dockerConfig, 'config.json'), 'utf8')).credHelpers[HUB]).toBe('dstack');
    expect((await unconfigure()).exitCode).toBe(0);
    expect(await readFile(join(host.dockerConfig, 'config.json'), 'utf8')).toBe(original);
  });

  it('keeps one backup of the original (same mode), across a second configure; unconfigure --dry-run changes nothing', async () => {
    const original = '{\n  "debug": true\n}\n';
    await put(host.daemonJson, original, 0o640);
    const start = await host.snapshot();
    expect((await configure()).exitCode).toBe(0);
    const backup = `${host.daemonJson}.dstack-backup`;
    expect(await readFile(backup, 'utf8')).toBe(original);
    expect((await lstat(backup)).mode & 0o777).toBe(0o640);
    const more = await host.run([
      'configure',
      ...host.pathArgs,
      '--engines',
      'docker',
      '--mirror',
      MIRROR,
      '--mirror',
      'https://second.example',
    ]);
    expect(more.exitCode, more.stderr).toBe(0);
    expect(JSON.parse(await readFile(host.daemonJson, 'utf8'))['registry-mirrors']).toEqual([
      MIRROR,
      'https://second.example',
    ]);
    expect(await readFile(backup, 'utf8')).toBe(original);
    const configured = await host.snapshot();
    const dry = await unconfigure('--dry-run');
    expect(dry.stdout).toContain(`Docker daemon config ${host.daemonJson}: would change (as it was before configure)`);
    expect(await host.snapshot()).toEqual(configured);
    expect((await unconfigure()).exitCode).toBe(0);
    expect(await host.snapshot()).toEqual(start);
  });

  it.each([
    ['mirror.example', /scheme is required/],
    [
      'https://user:hunter2@mirror.example',
      /credentials in the URL are not allowed; remove them \(the helper supplies them\)/,
    ],
    ['https://mirror.example/?x=1', /a query or fragment is not allowed/],
  ])('refuses the mirror %s', async (mirror, message) => {
    const result = await host.run(['configure', ...host.pathArgs, ...ENGINES, '--mirror', mirror]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toContain('hunter2');
    expect(await host.snapshot()).toEqual({});
  });
});
