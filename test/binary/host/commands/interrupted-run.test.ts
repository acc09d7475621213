import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fakeHost, type FakeHost } from '../../../helpers/setup-fixture.ts';
import type { JournalStep } from '../../../../src/host/setup/journal/setup-journal.ts';

const MIRROR = 'http://127.0.0.1:5999';
const ORIGINAL = '{\n  "log-level": "info"\n}\n';

// The journal a killed run leaves is settled by the next run, but never against a file that
// someone else changed since, and never while the run that wrote it is still going.
describe('a step an interrupted run left in the journal', () => {
  let host: FakeHost;
  beforeEach(async () => {
    host = await fakeHost();
    await mkdir(join(host.daemonJson, '..'), { recursive: true });
    await writeFile(host.daemonJson, ORIGINAL);
  });
  afterEach(() => host.cleanup());

  const run = (args: string[]) => host.run(args, { PATH: join(host.root, 'no-bin') });
  const journal = () => join(host.stateDir, 'setup-journal.json');
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');

  // The journal configure writes before daemon.json, as if it had been killed right after.
  async function leaveJournal(writer: { pid: number; started: string }): Promise<string> {
    expect((await run(['configure', ...host.pathArgs, '--engines', 'docker', '--mirror', MIRROR])).exitCode).toBe(0);
    const state = JSON.parse(await readFile(join(host.stateDir, 'setup-state.json'), 'utf8'));
    const configured = await readFile(host.daemonJson, 'utf8');
    const step: JournalStep = {
      version: 1,
      command: 'configure',
      writer,
      label: 'Docker daemon config',
      path: host.daemonJson,
      target: host.daemonJson,
      beforeSha256: sha(ORIGINAL),
      afterSha256: sha(configured),
      backup: `${host.daemonJson}.dstack-backup`,
      recordBefore: null,
      recordAfter: state.files[host.daemonJson],
      onFinish: { files: [], dirs: [] },
      onRollback: { files: [`${host.daemonJson}.dstack-backup`], dirs: [] },
    };
    await writeFile(journal(), JSON.stringify(step));
    return configured;
  }

  it('a file changed by someone else since is left alone, and unconfigure says so and fails', async () => {
    const configured = await leaveJournal({ pid: 999_999_999, started: '1' });
    const theirs = configured.replace('"info"', '"debug"');
    await writeFile(host.daemonJson, theirs);
    const before = await host.snapshot();
    const refused = await run(['unconfigure', '--state-dir', host.stateDir, '--no-reload']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toBe(
      `docker-credential-dstack unconfigure: Docker daemon config ${host.daemonJson} was changed by something else after an interrupted configure (pid 999999999) began writing it; it was left as it is: check it (its content before configure is in ${host.daemonJson}.dstack-backup), then remove ${journal()} and run the command again`,
    );
    expect(refused.stdout).not.toMatch(/unconfigured|nothing to unconfigure/);
    expect(await host.snapshot()).toEqual(before);

    // Put back as the interrupted run left it: the step is finished, then undone with the rest.
    await writeFile(host.daemonJson, configured);
    const undone = await run(['unconfigure', '--state-dir', host.stateDir, '--no-reload']);
    expect(undone.exitCode, undone.stderr).toBe(0);
    expect(undone.stdout).toContain(
      `Docker daemon config ${host.daemonJson}: finished what an interrupted configure (pid 999999999) had begun`,
    );
    expect(await readFile(host.daemonJson, 'utf8')).toBe(ORIGINAL);
  });

  it('a run that is still going is not interfered with', async () => {
    const stat = await readFile(`/proc/${process.pid}/stat`, 'utf8');
    await leaveJournal({ pid: process.pid, started: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]! });
    const before = await host.snapshot();
    const busy = await run(['configure', ...host.pathArgs, '--engines', 'docker', '--mirror', 'http://127.0.0.1:5998']);
    expect(busy.exitCode).toBe(1);
    expect(busy.stderr).toBe(
      `docker-credential-dstack configure: another configure (pid ${process.pid}) is writing ${host.daemonJson} now; wait for it to end and run the command again`,
    );
    expect(await host.snapshot()).toEqual(before);
  });
});
