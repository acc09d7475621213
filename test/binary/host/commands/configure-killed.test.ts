import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { watch } from 'node:fs';
import { copyFile, cp, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HELPER_BINARY } from '../../../helpers/setup-fixture.ts';

const MIRROR = 'http://127.0.0.1:5999';
const CONFIGURE_KILLS = 20;
// The kills must be seen landing inside configure's writes, not only before or after them.
// On a loaded machine the spread delays may miss the window more often: further kills at
// random moments of it, up to a bound, until enough have landed.
const MID_RUN_KILLS = 5;
const MAX_KILLS = 80;
const UNCONFIGURE_KILLS = 10;

// configure or unconfigure killed with SIGKILL at any moment leaves nothing that the next run
// cannot finish or undo: in the end the files are byte for byte as they were. The kills are
// spread over the writing phase, timed from its first write; a big daemon.json (5 MB) makes
// that phase long.
describe('configure and unconfigure killed at a random moment', () => {
  let work: string;
  let template: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'dstack-killed-'));
    template = join(work, 'daemon.json.template');
    const lines = ['{', '  "log-level": "info",', '  "x": 1e400,', '  "labels": ['];
    for (let i = 0; i < 150_000; i++) lines.push(`    "com.example.label-${i}=value"${i < 149_999 ? ',' : ''}`);
    lines.push('  ]', '}', '');
    await writeFile(template, lines.join('\n'));
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  async function freshRoot(name: string): Promise<{ root: string; args: string[] }> {
    const root = join(work, name);
    await rm(root, { recursive: true, force: true });
    await mkdir(join(root, 'etc-docker'), { recursive: true });
    await copyFile(template, join(root, 'etc-docker', 'daemon.json'));
    const args = [
      '--engines',
      'docker,containerd,podman',
      '--mirror',
      MIRROR,
      '--no-reload',
      '--daemon-json',
      join(root, 'etc-docker', 'daemon.json'),
      '--docker-config',
      join(root, 'root-docker'),
      '--containerd-certs-dir',
      join(root, 'etc-containerd', 'certs.d'),
      '--containerd-config',
      join(root, 'etc-containerd', 'config.toml'),
      '--docker-certs-dir',
      join(root, 'etc-docker', 'certs.d'),
      '--registries-conf-dir',
      join(root, 'etc-containers', 'registries.conf.d'),
      '--state-dir',
      join(root, 'state'),
      '--dockerd-pidfile',
      join(root, 'no-dockerd.pid'),
    ];
    return { root, args };
  }
  // No docker or dockerd on PATH: only configure's own writes take time.
  const env = {
    PATH: '/nonexistent-bin',
    DOCKER_HOST: 'unix:///nonexistent.sock',
    DOCKER_CREDENTIAL_DSTACK_CONFIG: '/nonexistent/config.json',
  };
  // Runs the binary; with `watchDir`, measures from the first write it sees there (a name that
  // `firstWrite` accepts) and, with `killAfterMs`, sends SIGKILL that long after that write.
  interface Watch {
    dir: string;
    firstWrite: (name: string) => boolean;
    killAfterMs?: number;
  }
  async function run(
    args: string[],
    watching?: Watch,
  ): Promise<{ code: number | null; signal: string | null; out: string; writingMs: number }> {
    let firstWrite: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    const watcher =
      watching &&
      watch(watching.dir, (_event, name) => {
        if (firstWrite !== undefined || !name || !watching.firstWrite(name)) return;
        firstWrite = Date.now();
        if (watching.killAfterMs !== undefined) timer = setTimeout(() => child.kill('SIGKILL'), watching.killAfterMs);
      });
    const child = spawn(HELPER_BINARY, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    clearTimeout(timer);
    watcher?.close();
    return { code, signal, out, writingMs: firstWrite === undefined ? 0 : Date.now() - firstWrite };
  }
  const stateArgs = (args: string[]) => ['--state-dir', args[args.indexOf('--state-dir') + 1]!, '--no-reload'];
  // configure's first write creates the state directory; unconfigure's is the journal in it.
  const stateDirAppears = (root: string, killAfterMs?: number): Watch => ({
    dir: root,
    firstWrite: (name) => name === 'state',
    killAfterMs,
  });
  const journalAppears = (root: string, killAfterMs?: number): Watch => ({
    dir: join(root, 'state'),
    firstWrite: (name) => name.includes('setup-journal'),
    killAfterMs,
  });

  it(`configure killed at any of ${CONFIGURE_KILLS} moments: unconfigure (or the next configure) restores every byte`, async () => {
    // The same root as the runs below: containerd's config.toml names the certs dir by its path.
    const reference = await freshRoot('run');
    const original = await snapshot(reference.root);
    const full = await run(['configure', ...reference.args], stateDirAppears(reference.root));
    expect(full.code, full.out).toBe(0);
    expect(full.writingMs).toBeGreaterThan(0);
    const configured = withoutState(await snapshot(reference.root));
    expect(configured).not.toEqual(withoutState(original));

    let midRun = 0;
    for (let i = 0; (i < CONFIGURE_KILLS || midRun < MID_RUN_KILLS) && i < MAX_KILLS; i++) {
      const delay = Math.round(
        i < CONFIGURE_KILLS ? (full.writingMs * i) / (CONFIGURE_KILLS - 1) : Math.random() * full.writingMs,
      );
      const { root, args } = await freshRoot('run');
      const killed = await run(['configure', ...args], stateDirAppears(root, delay));
      const left = await snapshot(root);
      if (killed.signal === 'SIGKILL' && !sameTree(left, original) && !sameTree(withoutState(left), configured))
        midRun++;

      if (i % 4 === 3) {
        // The next configure finishes or rolls back the interrupted one, then does its own work.
        const again = await run(['configure', ...args]);
        expect(again.code, `after a kill at ${delay} ms: ${again.out}`).toBe(0);
        expect(withoutState(await snapshot(root)), `configure after a kill at ${delay} ms`).toEqual(configured);
      }
      const undone = await run(['unconfigure', ...stateArgs(args)]);
      expect(
        undone.code,
        `unconfigure after a kill at ${delay} ms (${killed.signal ?? `exit ${killed.code}`}): ${undone.out}`,
      ).toBe(0);
      expect(
        await snapshot(root),
        `files after a kill at ${delay} ms then unconfigure; it said: ${undone.out}`,
      ).toEqual(original);
    }
    // Proof the kills landed inside configure's writes, not only before or after them.
    expect(midRun, `kills that left a half-done configure (writing took ${full.writingMs} ms)`).toBeGreaterThanOrEqual(
      MID_RUN_KILLS,
    );
  }, 240_000);

  it(`unconfigure killed at any of ${UNCONFIGURE_KILLS} moments: the next unconfigure restores every byte`, async () => {
    const { root, args } = await freshRoot('u');
    const original = await snapshot(root);
    expect((await run(['configure', ...args])).code).toBe(0);
    const configured = await snapshot(root);
    await cp(root, `${root}-configured`, { recursive: true });
    const full = await run(['unconfigure', ...stateArgs(args)], journalAppears(root));
    expect(full.code, full.out).toBe(0);
    expect(full.writingMs).toBeGreaterThan(0);

    let midRun = 0;
    for (let i = 0; (i < UNCONFIGURE_KILLS || midRun < MID_RUN_KILLS) && i < MAX_KILLS; i++) {
      const delay = Math.round(
        i < UNCONFIGURE_KILLS ? (full.writingMs * i) / (UNCONFIGURE_KILLS - 1) : Math.random() * full.writingMs,
      );
      await rm(root, { recursive: true, force: true });
      await cp(`${root}-configured`, root, { recursive: true });
      const killed = await run(['unconfigure', ...stateArgs(args)], journalAppears(root, delay));
      const left = await snapshot(root);
      if (killed.signal === 'SIGKILL' && !sameTree(left, original) && !sameTree(left, configured)) midRun++;
      const undone = await run(['unconfigure', ...stateArgs(args)]);
      expect(undone.code, `unconfigure after a kill at ${delay} ms: ${undone.out}`).toBe(0);
      expect(
        await snapshot(root),
        `files after unconfigure was killed at ${delay} ms, then run again; it said: ${undone.out}`,
      ).toEqual(original);
    }
    expect(
      midRun,
      `kills that left a half-done unconfigure (writing took ${full.writingMs} ms)`,
    ).toBeGreaterThanOrEqual(MID_RUN_KILLS);
  }, 240_000);
});

// Every entry under root: mode and sha256 of the content (directories by mode).
async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const info = await lstat(path);
      const key = relative(root, path);
      if (entry.isDirectory()) {
        out[`${key}/`] = (info.mode & 0o7777).toString(8);
        await walk(path);
      } else
        out[key] = `${(info.mode & 0o7777).toString(8)} ${createHash('sha256')
          .update(await readFile(path))
          .digest('hex')}`;
    }
  };
  await walk(root);
  return out;
}

function withoutState(tree: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tree).filter(([path]) => !path.startsWith('state/')));
}

function sameTree(a: Record<string, string>, b: Record<string, string>): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
