import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRunning } from '../helpers/reaper.ts';
import { useDockerdWithDaemonJson } from './harness/setup-dockerd.ts';
import { dockerdMatrix } from './harness/engine-matrix.ts';

// A dockerd reload leaves a setting alone when its key is absent from daemon.json. So when
// daemon.json had no registry-mirrors before configure, restoring its bytes and sending SIGHUP
// would leave our mirror running. unconfigure must end with the running daemon (same process,
// no restart) without the mirror AND the file byte for byte as it was.
describe.each(dockerdMatrix())(
  'unconfigure with a real dockerd whose daemon.json had no registry-mirrors, on $label',
  (engine) => {
    const MIRROR = 'http://127.0.0.1:5999';
    const original = '{\n  "log-level": "info"\n}\n';
    const setup = useDockerdWithDaemonJson({ prefix: '/tmp/e2e-unc-', daemonJson: original, engine });
    const { run, common } = setup;
    const configure = () =>
      run([
        'configure',
        ...common(),
        '--docker-config',
        join(setup.dir, 'client'),
        '--daemon-json',
        setup.dockerd.daemonJsonPath,
        '--docker-certs-dir',
        setup.dockerd.certsDir,
        '--engines',
        'docker',
        '--mirror',
        MIRROR,
      ]);
    // Docker 26 and later report no mirrors as null, 20.10 as [].
    const mirrors = async () => ((await setup.dockerd.info()).RegistryConfig.Mirrors ?? []) as string[];

    it('the daemon drops the mirror and daemon.json gets its bytes back', async () => {
      const { dir, dockerd } = setup;
      const pid = dockerd.pid;
      const configured = await configure();
      expect(configured.exitCode, `${configured.stdout}\n${configured.stderr}`).toBe(0);
      expect(await mirrors()).toEqual([`${MIRROR}/`]);

      const undone = await run(['unconfigure', ...common()]);
      expect(undone.exitCode, `${undone.stdout}\n${undone.stderr}`).toBe(0);
      expect(await mirrors()).toEqual([]);
      expect(await readFile(dockerd.daemonJsonPath, 'utf8')).toBe(original);
      expect(undone.stdout).toContain(
        `Docker daemon config ${dockerd.daemonJsonPath}: "registry-mirrors" without ${MIRROR}, for dockerd to reload`,
      );
      expect(undone.stdout).toContain(
        `dockerd: reloaded (pid ${pid}, no restart); docker info no longer shows ${MIRROR}`,
      );
      expect(undone.stdout).toMatch(/^unconfigured$/m);
      expect(await readdir(dir)).not.toContain('state');
      expect(isRunning(pid)).toBe(true);
    });

    it('also when daemon.json was edited since configure: only our key goes, their edit stays', async () => {
      const { dockerd } = setup;
      expect((await configure()).exitCode).toBe(0);
      expect(await mirrors()).toEqual([`${MIRROR}/`]);
      const edited = (await readFile(dockerd.daemonJsonPath, 'utf8')).replace(
        '"log-level": "info"',
        '"log-level": "warn"',
      );
      await writeFile(dockerd.daemonJsonPath, edited);

      const undone = await run(['unconfigure', ...common()]);
      expect(undone.exitCode, `${undone.stdout}\n${undone.stderr}`).toBe(0);
      expect(await mirrors()).toEqual([]);
      expect(await readFile(dockerd.daemonJsonPath, 'utf8')).toBe(original.replace('"info"', '"warn"'));
    });
  },
);
