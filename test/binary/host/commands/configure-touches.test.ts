import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeHost, HELPER_BINARY, type FakeHost } from '../../../helpers/setup-fixture.ts';

const MIRROR = 'http://127.0.0.1:5999';
const WRITES =
  /^(openat|open|creat|mkdir|mkdirat|rename|renameat|renameat2|unlink|unlinkat|rmdir|link|linkat|symlink|symlinkat|chmod|fchmodat|chown|fchownat|lchown|truncate|utimensat)\(/;

// configure names every path it writes, in --dry-run and in its normal output, and writes
// nowhere else. strace sees every write the binary (and any program it runs) makes.
describe('configure lists every file it touches', () => {
  let host: FakeHost;
  beforeEach(async () => {
    host = await fakeHost();
    await mkdir(join(host.daemonJson, '..'), { recursive: true });
    await writeFile(host.daemonJson, '{\n  "log-level": "info"\n}\n');
    await mkdir(join(host.root, 'home'));
    await mkdir(join(host.root, 'tmp'));
  });
  afterEach(() => host.cleanup());

  // The real PATH (docker, dockerd as on a host), HOME and TMPDIR inside the fake root.
  async function traced(args: string[]): Promise<{ exitCode: number; stdout: string; written: string[] }> {
    const log = join(host.root, 'strace.log');
    const result = await execa('strace', ['-f', '-qq', '-o', log, '-e', 'trace=%file', HELPER_BINARY, ...args], {
      reject: false,
      extendEnv: false,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: join(host.root, 'home'),
        TMPDIR: join(host.root, 'tmp'),
        DOCKER_HOST: `unix://${join(host.root, 'no-docker.sock')}`,
        DOCKER_CREDENTIAL_DSTACK_CONFIG: join(host.root, 'no-config.json'),
      },
    });
    const written = new Set<string>();
    for (const line of (await readFile(log, 'utf8')).split('\n')) {
      const call = line.replace(/^\d+\s+/, '');
      if (!WRITES.test(call)) continue;
      if (/^open(at)?\(/.test(call) && !/O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(call)) continue;
      for (const [, path] of call.matchAll(/"([^"]*)"/g)) if (path!.startsWith('/')) written.add(path!);
    }
    return {
      exitCode: result.exitCode ?? -1,
      stdout: String(result.stdout),
      written: [...written].filter((p) => p !== log),
    };
  }
  // A temp file of an atomic write stands for the file it becomes.
  const named = (path: string) => path.replace(/\/\.([^/]+)\.\d+\.[0-9a-f]{8}\.tmp$/, '/$1');
  const listed = (output: string, path: string) =>
    new RegExp(`(^|\\s)${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=[:,)\\s]|$)`, 'm').test(output);

  it('with --engines docker,containerd,podman and every path in a temp dir', async () => {
    execFileSync('strace', ['-V']);
    const args = ['configure', ...host.pathArgs, '--engines', 'docker,containerd,podman', '--mirror', MIRROR];

    const dry = await traced([...args, '--dry-run']);
    expect(dry.exitCode, dry.stdout).toBe(0);
    expect(dry.written.filter((p) => !p.startsWith(`${join(host.root, 'tmp')}/`))).toEqual([]);

    const real = await traced(args);
    expect(real.exitCode, real.stdout).toBe(0);
    const touched = [...new Set(real.written.map(named))];
    // What it writes: the files, their backup, new directories, the state and its journal.
    for (const path of [
      host.daemonJson,
      `${host.daemonJson}.dstack-backup`,
      join(host.dockerConfig, 'config.json'),
      join(host.stateDir, 'setup-state.json'),
      join(host.stateDir, 'setup-journal.json'),
      host.stateDir,
    ]) {
      expect(touched).toContain(path);
    }
    for (const path of touched) {
      expect(path.startsWith(`${host.root}/`), `${path} is outside the test's directory`).toBe(true);
      if (path.startsWith(`${join(host.root, 'tmp')}/`)) continue;
      expect(listed(real.stdout, path), `configure wrote ${path} without naming it:\n${real.stdout}`).toBe(true);
      expect(listed(dry.stdout, path), `--dry-run does not name ${path}:\n${dry.stdout}`).toBe(true);
    }

    // unconfigure too: its dry run writes nothing, and it names every path it changes or removes.
    const undoDry = await traced(['unconfigure', '--state-dir', host.stateDir, '--no-reload', '--dry-run']);
    expect(undoDry.exitCode, undoDry.stdout).toBe(0);
    expect(undoDry.written).toEqual([]);
    const undo = await traced(['unconfigure', '--state-dir', host.stateDir, '--no-reload']);
    expect(undo.exitCode, undo.stdout).toBe(0);
    for (const path of new Set(undo.written.map(named))) {
      expect(path.startsWith(`${host.root}/`), `${path} is outside the test's directory`).toBe(true);
      expect(listed(undo.stdout, path), `unconfigure wrote ${path} without naming it:\n${undo.stdout}`).toBe(true);
      expect(listed(undoDry.stdout, path), `unconfigure --dry-run does not name ${path}:\n${undoDry.stdout}`).toBe(
        true,
      );
    }
  });
});
