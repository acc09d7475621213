import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeHost, type FakeHost } from './setup-fixture.ts';

const MIRROR = 'https://mirror.example';
const ORIGINAL = '{\n  "log-level": "info"\n}\n';

// A dockerd that keeps the mirror after the reload (here: a stand-in that ignores SIGHUP and a
// docker CLI that always lists it) must not be reported as unconfigured: the files are
// restored byte for byte, and unconfigure says plainly that dockerd needs a restart.
describe('unconfigure when the reloaded dockerd keeps the mirror', () => {
  let host: FakeHost | undefined;
  let engine: ReturnType<typeof spawn> | undefined;
  afterEach(async () => {
    if (engine?.pid) process.kill(engine.pid, 'SIGKILL');
    await host?.cleanup();
  });

  it('restores the files, exits 1 and says to restart dockerd', async () => {
    host = await fakeHost();
    const bin = join(host.root, 'bin');
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'docker'), `#!/bin/sh\necho '{"ServerVersion":"20.10.24","Driver":"overlay2","DriverStatus":[],"RegistryConfig":{"Mirrors":["${MIRROR}/"]}}'\n`, { mode: 0o755 });
    // configure signals only a process named dockerd: a script of that name (off PATH) that ignores SIGHUP.
    await mkdir(join(host.root, 'engine'));
    const fakeDockerd = join(host.root, 'engine', 'dockerd');
    await writeFile(fakeDockerd, '#!/bin/sh\ntrap "" HUP\nwhile :; do sleep 1; done\n', { mode: 0o755 });
    engine = spawn(fakeDockerd, [], { stdio: 'ignore' });
    const pidfile = join(host.root, 'dockerd.pid');
    await writeFile(pidfile, `${engine.pid}\n`);
    await waitForComm(engine.pid!, 'dockerd');
    await mkdir(join(host.daemonJson, '..'), { recursive: true });
    await writeFile(host.daemonJson, ORIGINAL);
    const env = { PATH: `${bin}:/usr/bin:/bin` };
    const args = host.pathArgs.filter((a) => a !== '--no-reload').map((a) => (a.endsWith('no-dockerd.pid') ? pidfile : a));
    const configured = await host.run(['configure', ...args, '--engines', 'docker', '--mirror', MIRROR], env);
    expect(configured.exitCode, configured.stderr).toBe(0);

    const result = await host.run(['unconfigure', '--state-dir', host.stateDir, '--dockerd-pidfile', pidfile], env);

    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(
      `not fully unconfigured: the files are restored, but dockerd (pid ${engine.pid}) was reloaded and docker info does not show ${MIRROR} gone: restart dockerd (\`systemctl restart docker\`) to drop ${MIRROR}`,
    );
    expect(result.stdout).not.toMatch(/^unconfigured$/m);
    expect(await readFile(host.daemonJson, 'utf8')).toBe(ORIGINAL);
  }, 60_000);
});

// The stand-in counts as dockerd once the kernel names it so (after its exec).
async function waitForComm(pid: number, name: string): Promise<void> {
  for (;;) {
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    if (comm.trim() === name) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
