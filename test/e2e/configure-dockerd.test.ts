import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { startDockerd } from './harness/dockerd.ts';
import { isRunning } from '../helpers/reaper.ts';
import { HELPER_BINARY } from '../helpers/ensure-packages.ts';
import { useDockerdWithDaemonJson } from './harness/setup-dockerd.ts';
import { dockerdMatrix } from './harness/engine-matrix.ts';

// configure/unconfigure against a real dockerd: the mirror appears in and disappears from
// `docker info` through a SIGHUP reload, with the same daemon process (no restart).
// A missing dockerd fails this file (ensureE2ePrerequisites never skips).
describe.each(dockerdMatrix())('configure with a real dockerd, on $label', (engine) => {
  const MIRROR = 'http://127.0.0.1:5999';
  const original = '{\n  "log-level": "info",\n  "registry-mirrors": [\n    "http://127.0.0.1:5998"\n  ]\n}\n';
  const setup = useDockerdWithDaemonJson({ prefix: '/tmp/e2e-cfg-', daemonJson: original, engine });
  const { run, common } = setup;

  it('configure adds the mirror to the running daemon without a restart; unconfigure takes it out the same way', async () => {
    const { dir, dockerd } = setup;
    const pid = dockerd.pid;
    // The same command twice: the second must find nothing to change (one list, so both name
    // every file: a second run that named no certs dir once wrote the host's).
    const configure = [
      'configure',
      ...common(),
      '--docker-config',
      join(dir, 'client'),
      '--daemon-json',
      dockerd.daemonJsonPath,
      '--docker-certs-dir',
      dockerd.certsDir,
      '--engines',
      'docker',
      '--mirror',
      MIRROR,
    ];
    const configured = await run(configure);
    expect(configured.exitCode, `${configured.stdout}\n${configured.stderr}`).toBe(0);
    expect(configured.stdout).toContain(`dockerd: reloaded (pid ${pid}, no restart); docker info shows ${MIRROR}`);
    expect(configured.stdout).toContain(
      engine.containerdStore
        ? 'containerd image store (snapshotter native)'
        : 'classic image store (storage driver vfs)',
    );
    expect((await dockerd.info()).RegistryConfig.Mirrors).toEqual(['http://127.0.0.1:5998/', `${MIRROR}/`]);
    expect(isRunning(pid)).toBe(true);
    expect(JSON.parse(await readFile(join(dir, 'client', 'config.json'), 'utf8')).credHelpers).toEqual({
      'https://index.docker.io/v1/': 'dstack',
      '127.0.0.1:5999': 'dstack',
    });

    const again = await run(configure);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('dockerd: mirror in effect (docker info)');
    expect(again.stdout, `${again.stdout}\n${again.stderr}`).toContain('already configured: nothing changed');

    const doctorInfo = await execa('docker', ['info', '--format', '{{json .RegistryConfig.Mirrors}}'], {
      env: { DOCKER_HOST: dockerd.host },
    });
    expect(JSON.parse(doctorInfo.stdout)).toContain(`${MIRROR}/`);

    const undone = await run(['unconfigure', ...common()]);
    expect(undone.exitCode, `${undone.stdout}\n${undone.stderr}`).toBe(0);
    expect(undone.stdout).toContain(
      `dockerd: reloaded (pid ${pid}, no restart); docker info no longer shows ${MIRROR}`,
    );
    expect((await dockerd.info()).RegistryConfig.Mirrors).toEqual(['http://127.0.0.1:5998/']);
    expect(await readFile(dockerd.daemonJsonPath, 'utf8')).toBe(original);
    expect(isRunning(pid)).toBe(true);
  });

  it('refuses, and writes nothing, when the daemon runs with a --registry-mirror flag', async () => {
    const flagDir = await mkdtemp('/tmp/e2e-cfg-flag-');
    try {
      const flagged = await startDockerd({
        dir: join(flagDir, 'd'),
        engine,
        extraArgs: ['--registry-mirror', 'http://127.0.0.1:5997'],
      });
      try {
        const before = await readFile(flagged.daemonJsonPath, 'utf8');
        const result = await execa(
          HELPER_BINARY,
          [
            'configure',
            '--state-dir',
            join(flagDir, 'state'),
            '--dockerd-pidfile',
            join(flagDir, 'd', 'dockerd.pid'),
            '--docker-config',
            join(flagDir, 'client'),
            '--daemon-json',
            flagged.daemonJsonPath,
            '--docker-certs-dir',
            flagged.certsDir,
            '--engines',
            'docker',
            '--mirror',
            MIRROR,
          ],
          { reject: false, env: { PATH: process.env.PATH ?? '', DOCKER_HOST: flagged.host }, extendEnv: false },
        );
        expect(result.exitCode).toBe(1);
        expect(result.stderr).toMatch(/runs with a --registry-mirror flag/);
        expect(await readFile(flagged.daemonJsonPath, 'utf8')).toBe(before);
        expect(await readdir(flagged.certsDir), 'no certs.d file either').toEqual([]);
      } finally {
        await flagged.stop();
      }
    } finally {
      await rm(flagDir, { recursive: true, force: true });
    }
  });
});
