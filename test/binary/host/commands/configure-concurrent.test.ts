import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startContractServer, type ContractServer } from '../../../helpers/contract-server.ts';
import { helperEnv } from '../../../helpers/doctor-fixture.ts';
import { fakeHost, type FakeHost } from '../../../helpers/setup-fixture.ts';
import { escapeRegExp } from '../../../helpers/escape-regexp.ts';

// Issue 18, item 9: configure and unconfigure take the setup lock of their state directory
// (src/host/setup/journal/setup-lock.ts). Two runs started at the same moment: one waits for the other
// and says whom it waits for; one that may not wait fails in one line naming the holder's pid;
// a lock left by a dead run is taken over with a warning. The server's host-config answer is
// slowed so that the first run is still holding the lock when the second looks.
const MIRROR = 'http://127.0.0.1:5999';
const HUB = 'https://index.docker.io/v1/';
const SLOW_MS = 1500;

describe('configure and unconfigure: one run at a time', () => {
  let host: FakeHost;
  let server: ContractServer;
  let env: Record<string, string>;
  let lockPath: string;
  beforeEach(async () => {
    host = await fakeHost();
    server = await startContractServer({ hostConfig: { mirrors: [MIRROR], registries: [HUB] } });
    // No docker or dockerd on PATH: the runs take only their own time (and the server's).
    env = { ...(await helperEnv(host, server)), PATH: '/nonexistent-bin' };
    lockPath = join(host.stateDir, 'setup.lock');
  });
  afterEach(async () => {
    await server?.close();
    await host?.cleanup();
  });

  const configure = (...extra: string[]) => ['configure', ...host.pathArgs, '--engines', 'docker', ...extra];

  // Both runs' results must add up to one configured host: well-formed files naming the
  // mirror once, a state that unconfigure can undo byte for byte, nothing left behind.
  async function expectConsistent(original: Record<string, string>): Promise<void> {
    const daemon = JSON.parse(await readFile(host.daemonJson, 'utf8')) as { 'registry-mirrors': string[] };
    expect(daemon['registry-mirrors']).toEqual([MIRROR]);
    const client = JSON.parse(await readFile(join(host.dockerConfig, 'config.json'), 'utf8')) as {
      credHelpers: Record<string, string>;
    };
    expect(client.credHelpers).toEqual({ [HUB]: 'dstack', '127.0.0.1:5999': 'dstack' });
    const state = JSON.parse(await readFile(join(host.stateDir, 'setup-state.json'), 'utf8')) as {
      files: Record<string, unknown>;
    };
    expect(Object.keys(state.files).sort()).toEqual([join(host.dockerConfig, 'config.json'), host.daemonJson].sort());
    expect(await readdir(host.stateDir)).toEqual(['setup-state.json']);
    const undone = await host.run(['unconfigure', '--state-dir', host.stateDir, '--no-reload'], env);
    expect(undone.exitCode, undone.stderr).toBe(0);
    expect(await host.snapshot()).toEqual(original);
  }

  it('two configures started at the same moment: one waits for the other, naming it, and the host ends configured once', async () => {
    const original = await host.snapshot();
    server.queue({ kind: 'delay', ms: SLOW_MS }, { kind: 'delay', ms: SLOW_MS });
    const a = host.start(configure(), env);
    const b = host.start(configure(), env);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.exitCode, ra.stderr).toBe(0);
    expect(rb.exitCode, rb.stderr).toBe(0);
    const waitLine = (holder: number) =>
      `waiting for configure (pid ${holder}) to finish: it holds the setup lock ${lockPath} (up to 30 s, --lock-wait)`;
    const waited = [ra.stderr.split('\n').includes(waitLine(b.pid)), rb.stderr.split('\n').includes(waitLine(a.pid))];
    // Exactly one of them waited, for the other one.
    expect(waited.filter(Boolean), `a: ${ra.stderr}\nb: ${rb.stderr}`).toHaveLength(1);
    const outs = [ra.stdout, rb.stdout].sort((x, y) => x.length - y.length);
    expect(outs[0]).toMatch(/^already configured: nothing changed$/m);
    expect(outs[1]).toMatch(/^configured$/m);
    await expectConsistent(original);
  });

  it('a second run that may not wait that long fails in one line naming the holder; the first is unharmed', async () => {
    const original = await host.snapshot();
    server.queue({ kind: 'delay', ms: 3 * SLOW_MS });
    const a = host.start(configure(), env);
    await until(() =>
      access(lockPath).then(
        () => true,
        () => false,
      ),
    );
    const [second, undo] = await Promise.all([
      host.run(configure('--lock-wait', '1s'), env),
      host.run(['unconfigure', '--state-dir', host.stateDir, '--no-reload', '--lock-wait', '0'], env),
    ]);
    const busy = (command: string, waited: string) =>
      new RegExp(
        `^docker-credential-dstack ${command}: another configure \\(pid ${a.pid}\\) has held the setup lock ${escapeRegExp(lockPath)} since \\S+${waited}: let it finish \\(or stop it\\), then run ${command} again; --lock-wait sets how long to wait$`,
      );
    expect(second.exitCode).toBe(1);
    expect(second.stderr.split('\n')).toEqual([
      `waiting for configure (pid ${a.pid}) to finish: it holds the setup lock ${lockPath} (up to 1 s, --lock-wait)`,
      expect.stringMatching(busy('configure', '; waited 1 s')),
    ]);
    expect(second.stdout).toBe('');
    expect(undo.exitCode).toBe(1);
    expect(undo.stderr).toMatch(busy('unconfigure', ''));
    expect(undo.stdout).toBe('');
    const first = await a.done;
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^configured$/m);
    await expectConsistent(original);
  });

  it('a lock left by a run that is gone is taken over with a warning', async () => {
    const original = await host.snapshot();
    const dead = spawn('/bin/true');
    await once(dead, 'exit');
    await mkdir(host.stateDir, { mode: 0o700 });
    await writeFile(
      lockPath,
      `${JSON.stringify({ version: 1, command: 'configure', writer: { pid: dead.pid, started: '1' }, since: '2026-12-01T10:00:00.000Z' })}\n`,
      { mode: 0o600 },
    );
    const result = await host.run(configure(), env);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr.split('\n')).toContain(
      `warning: took over the setup lock ${lockPath} from configure (pid ${dead.pid}, since 2026-12-01T10:00:00.000Z), which is no longer running`,
    );
    expect(result.stdout).toMatch(/^configured$/m);
    await expectConsistent(original);
  });

  it('a --lock-wait that is not a duration: one line naming it, nothing written', async () => {
    const result = await host.run(configure('--lock-wait', 'soon'), env);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      'docker-credential-dstack configure: --lock-wait: "soon" is not a duration; use a positive number with s, m, h or d, such as 90s, 10m, 12h or 30d',
    );
    await expect(access(host.stateDir)).rejects.toThrow();
  });

  it('a dry run takes no lock and writes no state directory', async () => {
    const result = await host.run(configure('--dry-run'), env);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^dry run: nothing was changed$/m);
    await expect(access(host.stateDir)).rejects.toThrow();
  });
});

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
