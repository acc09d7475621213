import { REPO_ROOT } from '../../../helpers/repo-root.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { HELPER_BINARY } from '../../../helpers/setup-fixture.ts';

const SCRIPT = join(REPO_ROOT, 'scripts', 'install.sh');

// scripts/install.sh in a temp prefix, with every host path pointed into the temp dir.
describe('scripts/install.sh', () => {
  let root: string;
  let hostArgs: string[];
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'dstack-install-'));
    hostArgs = [
      '--docker-config',
      join(root, 'docker'),
      '--daemon-json',
      join(root, 'daemon.json'),
      '--state-dir',
      join(root, 'state'),
      '--engines',
      'docker',
      '--no-reload',
      '--dockerd-pidfile',
      join(root, 'none.pid'),
    ];
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  // The endpoint's units always go to a temp dir, and systemctl never runs (--no-systemctl).
  const install = (args: string[], input?: string) =>
    execa(
      'sh',
      [
        SCRIPT,
        '--binary',
        HELPER_BINARY,
        '--prefix',
        join(root, 'usr'),
        '--config-dir',
        join(root, 'etc'),
        '--systemd-dir',
        join(root, 'units'),
        '--no-systemctl',
        ...args,
      ],
      {
        reject: false,
        input,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DOCKER_HOST: `unix://${join(root, 'no.sock')}` },
        extendEnv: false,
      },
    );

  it('installs binary, config and a 0600 token, runs configure; a second run changes nothing; --uninstall reverses it', async () => {
    await writeFile(join(root, 'token-in'), 'instance-token-abc\n');
    const first = await install([
      '--server',
      'https://dstack.example',
      '--token-file',
      join(root, 'token-in'),
      '--',
      ...hostArgs,
      '--mirror',
      'https://mirror.example',
    ]);
    expect(first.exitCode, `${first.stdout}\n${first.stderr}`).toBe(0);
    const bin = join(root, 'usr', 'bin', 'docker-credential-dstack');
    expect((await stat(bin)).mode & 0o777).toBe(0o755);
    expect((await stat(bin)).size).toBe((await stat(HELPER_BINARY)).size);
    expect(JSON.parse(await readFile(join(root, 'etc', 'config.json'), 'utf8'))).toEqual({
      server: 'https://dstack.example',
      tokenFile: join(root, 'etc', 'token'),
    });
    expect(await readFile(join(root, 'etc', 'token'), 'utf8')).toBe('instance-token-abc');
    expect((await stat(join(root, 'etc', 'token'))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(join(root, 'daemon.json'), 'utf8'))).toEqual({
      'registry-mirrors': ['https://mirror.example'],
    });
    expect(first.stdout).toMatch(/^configured$/m);

    const second = await install([
      '--server',
      'https://dstack.example',
      '--token-file',
      join(root, 'token-in'),
      '--',
      ...hostArgs,
      '--mirror',
      'https://mirror.example',
    ]);
    expect(second.exitCode).toBe(0);
    expect(second.stdout.match(/^unchanged: /gm)).toHaveLength(5);
    expect(second.stdout).toContain('already configured: nothing changed');

    const removed = await install(['--uninstall', '--', '--state-dir', join(root, 'state'), '--no-reload']);
    expect(removed.exitCode, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('unconfigured');
    for (const path of [
      bin,
      join(root, 'etc'),
      join(root, 'daemon.json'),
      join(root, 'docker', 'config.json'),
      join(root, 'state'),
      join(root, 'units', 'docker-credential-dstack-mirror.socket'),
      join(root, 'units', 'docker-credential-dstack-mirror.service'),
    ]) {
      await expect(stat(path)).rejects.toThrow(/ENOENT/);
    }
  });

  it('a relative --config-dir or --prefix is taken from the current directory and written absolute', async () => {
    const result = await execa(
      'sh',
      [
        SCRIPT,
        '--binary',
        HELPER_BINARY,
        '--prefix',
        'usr',
        '--config-dir',
        'etc',
        '--no-mirror-units',
        '--server',
        'https://dstack.example',
        '--token-stdin',
        '--no-configure',
      ],
      {
        reject: false,
        input: 'tok',
        cwd: root,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        extendEnv: false,
      },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(root, 'etc', 'config.json'), 'utf8')).tokenFile).toBe(
      join(root, 'etc', 'token'),
    );
    expect((await stat(join(root, 'usr', 'bin', 'docker-credential-dstack'))).isFile()).toBe(true);
  });

  it('reads the token from stdin, refuses to run without a server or token', async () => {
    const noServer = await install(['--token-stdin', '--no-configure'], 'tok');
    expect(noServer.exitCode).toBe(1);
    expect(noServer.stderr).toContain('no helper config yet: pass --server URL');
    // refused before anything was written: no half install
    await expect(stat(join(root, 'usr'))).rejects.toThrow(/ENOENT/);
    await expect(stat(join(root, 'etc'))).rejects.toThrow(/ENOENT/);
    const noToken = await install(['--server', 'https://dstack.example', '--no-configure']);
    expect(noToken.exitCode).toBe(1);
    expect(noToken.stderr).toContain('no instance token yet');
    const ok = await install(['--server', 'https://dstack.example', '--token-stdin', '--no-configure'], 'from-stdin\n');
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(await readFile(join(root, 'etc', 'token'), 'utf8')).toBe('from-stdin');
    expect(ok.stdout + ok.stderr).not.toContain('from-stdin');

    // an empty token never replaces a good one
    const empty = await install(['--server', 'https://dstack.example', '--token-stdin', '--no-configure'], '\n');
    expect(empty.exitCode).toBe(1);
    expect(empty.stderr).toContain('no instance token on standard input; nothing was installed');
    await writeFile(join(root, 'empty-token'), '');
    const emptyFile = await install([
      '--server',
      'https://dstack.example',
      '--token-file',
      join(root, 'empty-token'),
      '--no-configure',
    ]);
    expect(emptyFile.exitCode).toBe(1);
    expect(emptyFile.stderr).toMatch(/--token-file .*empty-token is empty/);
    expect(await readFile(join(root, 'etc', 'token'), 'utf8')).toBe('from-stdin');
  });
});
