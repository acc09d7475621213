import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeHost, type FakeHost } from './setup-fixture.ts';

const MIRROR = 'https://mirror.example';

// A dockerd that gets SIGHUP but keeps its old mirrors (a reload it rejected) must not be
// reported as configured: the files are written, and configure says plainly it is not in effect.
describe('configure when the reloaded dockerd does not take the mirror', () => {
  let host: FakeHost | undefined;
  let engine: ReturnType<typeof spawn> | undefined;
  afterEach(async () => {
    if (engine?.pid) process.kill(engine.pid, 'SIGKILL');
    await host?.cleanup();
  });

  it('exits 1 and names the mirror that is not in effect', async () => {
    host = await fakeHost();
    const bin = join(host.root, 'bin');
    await mkdir(bin, { recursive: true });
    // `docker info` of a daemon that still has no mirror, and a "dockerd" that ignores SIGHUP.
    await writeFile(join(bin, 'docker'), `#!/bin/sh\necho '{"ServerVersion":"20.10.24","Driver":"overlay2","DriverStatus":[],"RegistryConfig":{"Mirrors":[]}}'\n`, { mode: 0o755 });
    // configure signals only a process named dockerd: a script of that name (off PATH) that ignores SIGHUP.
    const fakeDockerd = join(host.root, 'engine', 'dockerd');
    await mkdir(join(host.root, 'engine'));
    // It says "ready" once its SIGHUP trap is in place: the test waits for that, not for a delay.
    await writeFile(fakeDockerd, '#!/bin/sh\ntrap "" HUP\necho ready\nwhile :; do sleep 1; done\n', { mode: 0o755 });
    engine = spawn(fakeDockerd, [], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((resolve, reject) => {
      engine!.stdout!.once('data', () => resolve());
      engine!.once('exit', () => reject(new Error('the fake dockerd exited before it was ready')));
    });
    const pidfile = join(host.root, 'dockerd.pid');
    await writeFile(pidfile, `${engine.pid}\n`);
    const args = host.pathArgs.filter((a) => a !== '--no-reload').map((a) => (a.endsWith('no-dockerd.pid') ? pidfile : a));

    const result = await host.run(['configure', ...args, '--engines', 'docker', '--mirror', MIRROR], { PATH: `${bin}:${process.env.PATH}` });

    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`not in effect: the running dockerd does not use the mirror ${MIRROR}`);
    // The lines dockerd 20.10 really logs when it refuses a reload.
    expect(result.stderr).toContain('as "Error reconfiguring the daemon: …" or "unable to configure the Docker daemon with file …"; fix that and rerun');
    expect(result.stdout).not.toMatch(/^configured$/m);
    expect(JSON.parse(await readFile(host.daemonJson, 'utf8'))['registry-mirrors']).toEqual([MIRROR]);
  }, 30_000);
});
