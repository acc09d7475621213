import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeHost, type FakeHost } from '../../../helpers/setup-fixture.ts';
import { startStubbornDockerd, type StubbornDockerd } from '../../../helpers/stubborn-dockerd.ts';

const MIRROR = 'https://mirror.example';

// A dockerd that gets SIGHUP but keeps its old mirrors (a reload it rejected) must not be
// reported as configured: the files are written, and configure says plainly it is not in effect.
describe('configure when the reloaded dockerd does not take the mirror', () => {
  let host: FakeHost | undefined;
  let engine: StubbornDockerd | undefined;
  afterEach(async () => {
    engine?.stop();
    await host?.cleanup();
  });

  it('exits 1 and names the mirror that is not in effect', async () => {
    host = await fakeHost();
    // `docker info` of a daemon that still has no mirror, and a "dockerd" that ignores SIGHUP.
    engine = await startStubbornDockerd(host, []);
    const args = engine.args;

    const result = await host.run(['configure', ...args, '--engines', 'docker', '--mirror', MIRROR], {
      PATH: `${engine.path}:${process.env.PATH}`,
    });

    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`not in effect: the running dockerd does not use the mirror ${MIRROR}`);
    // The lines dockerd 20.10 really logs when it refuses a reload.
    expect(result.stderr).toContain(
      'as "Error reconfiguring the daemon: …" or "unable to configure the Docker daemon with file …"; fix that and rerun',
    );
    expect(result.stdout).not.toMatch(/^configured$/m);
    expect(JSON.parse(await readFile(host.daemonJson, 'utf8'))['registry-mirrors']).toEqual([MIRROR]);
  }, 30_000);
});
