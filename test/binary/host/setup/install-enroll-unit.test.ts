import { REPO_ROOT } from '../../../helpers/repo-root.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { HELPER_BINARY } from '../../../helpers/setup-fixture.ts';

const SCRIPT = join(REPO_ROOT, 'scripts', 'install.sh');
const UNIT = 'docker-credential-dstack-enroll.service';
const ANALYZE = '/usr/bin/systemd-analyze';

// install.sh --enroll CLOUD: no token needed; the enroll unit runs `enroll` at boot before the
// engines and the endpoint. All in a temp dir; the real systemctl never runs.
describe('scripts/install.sh --enroll', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'dstack-enroll-unit-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const run = (args: string[], env: Record<string, string> = {}) =>
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
        '--server',
        'https://dstack.example',
        ...args,
      ],
      {
        reject: false,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
        extendEnv: false,
      },
    );

  it('installs without a token and writes an enroll unit that configures at boot when install did not', async () => {
    const result = await run(['--enroll', 'aws', '--no-configure', '--no-systemctl']);
    expect(result.exitCode, result.stderr).toBe(0);
    await expect(stat(join(root, 'etc', 'token'))).rejects.toThrow(/ENOENT/);
    const unit = await readFile(join(root, 'units', UNIT), 'utf8');
    const bin = join(root, 'usr', 'bin', 'docker-credential-dstack');
    expect(unit).toContain(
      `\nType=oneshot\nRemainAfterExit=yes\nEnvironment=DOCKER_CREDENTIAL_DSTACK_CONFIG=${join(root, 'etc', 'config.json')}\nExecStart=${bin} enroll --cloud aws\nExecStartPost=-${bin} configure\nRestart=on-failure\n`,
    );
    expect(unit).toMatch(/^Before=docker-credential-dstack-mirror\.socket docker\.service containerd\.service$/m);
    expect(unit).toMatch(/^\[Install\]\nWantedBy=multi-user\.target$/m);
    expect(result.stdout).toContain(`not run (--no-systemctl): systemctl enable ${UNIT}`);
    // The mirror endpoint's units come too.
    expect(existsSync(join(root, 'units', 'docker-credential-dstack-mirror.socket'))).toBe(true);
  });

  it.skipIf(!existsSync(ANALYZE) && process.env.CI !== 'true')(
    'systemd-analyze verify accepts the enroll unit',
    async () => {
      expect((await run(['--enroll', 'aws', '--no-configure', '--no-systemctl'])).exitCode).toBe(0);
      const verify = await execa(ANALYZE, ['verify', join(root, 'units', UNIT)], { reject: false });
      expect(verify.stderr).toBe('');
      expect(verify.exitCode).toBe(0);
    },
  );

  it('enrolls at install time when it also configures, and refuses clouds it cannot enroll with', async () => {
    // Unreachable service: install stops at enroll, naming the cause in one line, with no token written.
    const result = await run(['--enroll', 'aws', '--no-systemctl'], {
      DOCKER_CREDENTIAL_DSTACK_METADATA_URL: 'http://127.0.0.1:9',
      DOCKER_CREDENTIAL_DSTACK_TIMEOUT: '500',
    });
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim()).toMatch(
      /^docker-credential-dstack enroll: cannot reach the metadata service at 127\.0\.0\.1:9\/latest\/api\/token \(ECONNREFUSED\); is this a cloud VM\?$/,
    );
    await expect(stat(join(root, 'etc', 'token'))).rejects.toThrow(/ENOENT/);
    const wrong = await run(['--enroll', 'oracle', '--no-systemctl']);
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toBe('install.sh: --enroll oracle: enrollment is available for aws, gcp and azure');
  });

  it('--uninstall disables the enroll unit and removes it', async () => {
    const calls = join(root, 'systemctl-calls');
    const recorder = join(root, 'systemctl');
    await writeFile(recorder, `#!/bin/sh\necho "$*" >> '${calls}'\n`, { mode: 0o755 });
    expect((await run(['--enroll', 'aws', '--no-configure'], { DSTACK_INSTALL_SYSTEMCTL: recorder })).exitCode).toBe(0);
    expect((await readFile(calls, 'utf8')).trim().split('\n').slice(0, 2)).toEqual(['daemon-reload', `enable ${UNIT}`]);
    await rm(calls);
    const removed = await execa(
      'sh',
      [
        SCRIPT,
        '--uninstall',
        '--prefix',
        join(root, 'usr'),
        '--config-dir',
        join(root, 'etc'),
        '--systemd-dir',
        join(root, 'units'),
        '--',
        '--state-dir',
        join(root, 'state'),
        '--no-reload',
      ],
      {
        reject: false,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DSTACK_INSTALL_SYSTEMCTL: recorder },
        extendEnv: false,
      },
    );
    expect(removed.exitCode, removed.stderr).toBe(0);
    expect((await readFile(calls, 'utf8')).trim().split('\n')[0]).toBe(`disable ${UNIT}`);
    await expect(stat(join(root, 'units', UNIT))).rejects.toThrow(/ENOENT/);
  });
});
