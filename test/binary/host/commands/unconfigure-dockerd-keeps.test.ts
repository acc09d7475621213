import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeHost, type FakeHost } from '../../../helpers/setup-fixture.ts';
import { startStubbornDockerd, type StubbornDockerd } from '../../../helpers/stubborn-dockerd.ts';

const MIRROR = 'https://mirror.example';
const ORIGINAL = '{\n  "log-level": "info"\n}\n';

// A dockerd that keeps the mirror after the reload (here: a stand-in that ignores SIGHUP and a
// docker CLI that always lists it) must not be reported as unconfigured: the files are
// restored byte for byte, and unconfigure says plainly that dockerd needs a restart.
describe('unconfigure when the reloaded dockerd keeps the mirror', () => {
  let host: FakeHost | undefined;
  let engine: StubbornDockerd | undefined;
  afterEach(async () => {
    engine?.stop();
    await host?.cleanup();
  });

  it('restores the files, exits 1 and says to restart dockerd', async () => {
    host = await fakeHost();
    // `docker info` that always lists the mirror, and a "dockerd" that ignores SIGHUP.
    engine = await startStubbornDockerd(host, [`${MIRROR}/`]);
    const pidfile = engine.pidfile;
    await mkdir(join(host.daemonJson, '..'), { recursive: true });
    await writeFile(host.daemonJson, ORIGINAL);
    const env = { PATH: engine.path };
    const args = engine.args;
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
