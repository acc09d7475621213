import { REPO_ROOT } from '../../../helpers/repo-root.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { HELPER_BINARY } from '../../../helpers/setup-fixture.ts';
import { freeLoopbackPort } from '../../../helpers/free-port.ts';

const SCRIPT = join(REPO_ROOT, 'scripts', 'install.sh');
const SOCKET = 'docker-credential-dstack-mirror.socket';
const SERVICE = 'docker-credential-dstack-mirror.service';
// Debian's systemd package: `systemd-analyze verify` reads units, `systemd-socket-activate`
// passes a listening socket as systemd does. Neither needs systemd to be running.
const ANALYZE = '/usr/bin/systemd-analyze';
const ACTIVATE = '/usr/bin/systemd-socket-activate';
const haveSystemdTools = existsSync(ANALYZE) && existsSync(ACTIVATE);

// install.sh and the mirror endpoint's systemd units, all in a temp dir; the real systemctl never runs.
describe('scripts/install.sh: the mirror endpoint units', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'dstack-units-'));
    await writeFile(join(root, 'token-in'), 'instance-token-abc\n');
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const paths = () => ({
    socket: join(root, 'units', SOCKET),
    service: join(root, 'units', SERVICE),
    bin: join(root, 'usr', 'bin', 'docker-credential-dstack'),
    config: join(root, 'etc', 'config.json'),
  });
  const run = (args: string[], env: Record<string, string> = {}) =>
    execa(
      'sh',
      [SCRIPT, '--binary', HELPER_BINARY, '--prefix', join(root, 'usr'), '--config-dir', join(root, 'etc'), ...args],
      {
        reject: false,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
        extendEnv: false,
      },
    );
  const install = (args: string[] = [], env: Record<string, string> = {}) =>
    run(
      [
        '--server',
        'https://dstack.example',
        '--token-file',
        join(root, 'token-in'),
        '--no-configure',
        '--systemd-dir',
        join(root, 'units'),
        ...args,
      ],
      env,
    );

  it('writes a loopback socket unit and a socket-activated service that runs the installed binary with the installed config', async () => {
    const result = await install(['--no-systemctl']);
    expect(result.exitCode, result.stderr).toBe(0);
    const { socket, service, bin, config } = paths();
    const socketText = await readFile(socket, 'utf8');
    expect(socketText).toMatch(/^\[Socket\]\nListenStream=127\.0\.0\.1:8484\nAccept=no\n/m);
    expect(socketText).toMatch(/^\[Install\]\nWantedBy=sockets\.target$/m);
    const serviceText = await readFile(service, 'utf8');
    expect(serviceText).toContain(`\nRequires=${SOCKET}\n`);
    expect(serviceText).toContain(
      `\nEnvironment=DOCKER_CREDENTIAL_DSTACK_CONFIG=${config}\nExecStart=${bin} mirror --idle-exit 10m\n`,
    );
    expect(serviceText).not.toContain('[Install]');
    expect((await stat(socket)).mode & 0o777).toBe(0o644);
    expect(result.stdout).toContain(`not run (--no-systemctl): systemctl enable --now ${SOCKET}`);

    const again = await install(['--no-systemctl']);
    expect(again.stdout).toContain(`unchanged: ${socket}`);
    expect(again.stdout).toContain(`unchanged: ${service}`);
  });

  it.skipIf(!haveSystemdTools && process.env.CI !== 'true')(
    'systemd-analyze verify accepts both units without a warning',
    async () => {
      expect(haveSystemdTools, "systemd-analyze and systemd-socket-activate come with Debian's systemd package").toBe(
        true,
      );
      expect((await install(['--no-systemctl'])).exitCode).toBe(0);
      const verify = await execa(ANALYZE, ['verify', paths().socket, paths().service], { reject: false });
      expect(verify.stderr).toBe('');
      expect(verify.exitCode).toBe(0);
    },
  );

  it.skipIf(!haveSystemdTools && process.env.CI !== 'true')(
    "the service's command, handed a socket as systemd hands it, serves /healthz on it",
    async () => {
      expect(haveSystemdTools).toBe(true);
      expect((await install(['--no-systemctl'])).exitCode).toBe(0);
      const unit = await readFile(paths().service, 'utf8');
      const execStart = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(' ');
      const environment = /^Environment=(.*)$/m.exec(unit)![1]!;
      // The installed config names no cache directory: point the endpoint's at the temp dir.
      await writeFile(
        paths().config,
        JSON.stringify({ ...JSON.parse(await readFile(paths().config, 'utf8')), cacheDir: join(root, 'cache') }),
      );
      const port = await freeLoopbackPort();
      const child = execa(ACTIVATE, ['-l', `127.0.0.1:${port}`, '-E', environment, ...execStart], {
        reject: false,
        env: { PATH: '/usr/bin:/bin' },
        extendEnv: false,
      });
      let log = '';
      child.stderr!.on('data', (chunk: Buffer) => (log += chunk));
      try {
        await waitFor(() => log.includes(`Listening on 127.0.0.1:${port}`));
        const health = await fetch(`http://127.0.0.1:${port}/healthz`);
        expect(health.status).toBe(200);
        expect(await health.json()).toEqual({ status: 'ok' });
        expect(log).toMatch(
          /mirror: listening on http:\/\/127\.0\.0\.1:\d+ \(systemd socket\).*exits after 600 s idle/,
        );
      } finally {
        child.kill('SIGTERM');
        await child;
      }
    },
  );

  it('runs systemctl in order on install and on --uninstall (a recorder stands in for systemctl)', async () => {
    const calls = join(root, 'systemctl-calls');
    const recorder = join(root, 'systemctl');
    await writeFile(recorder, `#!/bin/sh\necho "$*" >> '${calls}'\n`, { mode: 0o755 });
    const env = { DSTACK_INSTALL_SYSTEMCTL: recorder };
    const result = await install([], env);
    expect(result.exitCode, result.stderr).toBe(0);
    expect((await readFile(calls, 'utf8')).trim().split('\n')).toEqual([
      'daemon-reload',
      `enable --now ${SOCKET}`,
      `try-restart ${SERVICE}`,
    ]);

    await rm(calls);
    const removed = await run(['--uninstall', '--', '--state-dir', join(root, 'state'), '--no-reload'], env);
    expect(removed.exitCode, removed.stderr).toBe(0);
    expect((await readFile(calls, 'utf8')).trim().split('\n')).toEqual([
      `disable --now ${SOCKET}`,
      `stop ${SERVICE}`,
      'daemon-reload',
    ]);
    for (const path of [paths().socket, paths().service, paths().bin])
      await expect(stat(path)).rejects.toThrow(/ENOENT/);
  });

  it('a failing systemctl stops install.sh with the command named', async () => {
    const failing = join(root, 'systemctl');
    await writeFile(failing, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    const result = await install([], { DSTACK_INSTALL_SYSTEMCTL: failing });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      `install.sh: systemctl daemon-reload failed; see: journalctl -u ${SERVICE} -u ${SOCKET}`,
    );
  });

  it('without systemd (and no --systemd-dir): no units, and how to run the endpoint in the foreground', async () => {
    const result = await run(
      ['--server', 'https://dstack.example', '--token-file', join(root, 'token-in'), '--no-configure'],
      { DSTACK_INSTALL_SYSTEMD_RUNTIME: join(root, 'no-systemd') },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      "no systemd here (no /run/systemd/system): the mirror endpoint's units were not installed.",
    );
    expect(result.stdout).toContain(
      `DOCKER_CREDENTIAL_DSTACK_CONFIG=${paths().config} ${paths().bin} mirror   # listens on 127.0.0.1:8484`,
    );
    await expect(stat(join(root, 'units'))).rejects.toThrow(/ENOENT/);
  });

  it('--for-dstack-server: a certificate from mirror-cert, a --metadata-only https endpoint, no configure; --uninstall removes the certificate too', async () => {
    const result = await run([
      '--server',
      'https://dstack.example',
      '--token-file',
      join(root, 'token-in'),
      '--systemd-dir',
      join(root, 'units'),
      '--no-systemctl',
      '--for-dstack-server',
    ]);
    expect(result.exitCode, result.stderr).toBe(0);
    const tls = join(root, 'etc', 'tls');
    expect((await stat(join(tls, 'key.pem'))).mode & 0o777).toBe(0o600);
    for (const file of ['ca.pem', 'cert.pem', 'bundle.pem']) expect((await stat(join(tls, file))).isFile()).toBe(true);
    const unit = await readFile(paths().service, 'utf8');
    expect(unit).toContain(
      `\nExecStart=${paths().bin} mirror --idle-exit 10m --metadata-only --tls-cert ${tls}/cert.pem --tls-key ${tls}/key.pem\n`,
    );
    expect(result.stdout).toContain('not configured (--for-dstack-server)');
    expect(result.stdout).toContain(
      `DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY=127.0.0.1:8484 and REQUESTS_CA_BUNDLE=${tls}/bundle.pem`,
    );
    if (haveSystemdTools || process.env.CI === 'true') {
      const verify = await execa(ANALYZE, ['verify', paths().socket, paths().service], { reject: false });
      expect(verify.stderr).toBe('');
    }

    // A second run keeps the certificate the dstack server already trusts.
    const cert = await readFile(join(tls, 'cert.pem'), 'utf8');
    const again = await run([
      '--server',
      'https://dstack.example',
      '--token-file',
      join(root, 'token-in'),
      '--systemd-dir',
      join(root, 'units'),
      '--no-systemctl',
      '--for-dstack-server',
    ]);
    expect(again.stdout).toContain(`unchanged: ${tls} (the endpoint's certificate)`);
    expect(await readFile(join(tls, 'cert.pem'), 'utf8')).toBe(cert);

    const removed = await run([
      '--uninstall',
      '--no-systemctl',
      '--',
      '--state-dir',
      join(root, 'state'),
      '--no-reload',
    ]);
    expect(removed.exitCode, removed.stderr).toBe(0);
    await expect(stat(tls)).rejects.toThrow(/ENOENT/);
    await expect(stat(join(root, 'etc'))).rejects.toThrow(/ENOENT/);
  });

  it('--no-mirror-units installs no units', async () => {
    const result = await install(['--no-mirror-units']);
    expect(result.exitCode, result.stderr).toBe(0);
    await expect(stat(join(root, 'units'))).rejects.toThrow(/ENOENT/);
    expect(result.stdout).not.toContain('systemctl');
  });
});

// Polls a condition that an event (a log line) makes true; the test's own timeout bounds it.
async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}
