import { REPO_ROOT } from '../../../helpers/repo-root.ts';
import { spawn } from 'node:child_process';
import { chmod, copyFile, link, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRunning, sleep, stopProcess, trackProcess } from '../../../helpers/reaper.ts';
import {
  expectLog,
  logMatching,
  mirrorHome,
  startMirror,
  type MirrorHome,
  type MirrorProcess,
} from '../../../helpers/mirror-process.ts';
import {
  MANIFEST_V2,
  mirrorTestsRunnable,
  startStaticUpstream,
  uidOf,
  type StaticUpstream,
} from '../../../helpers/static-upstream.ts';

// Issue 18, item 2: a local user holding hundreds of idle connections must not make the
// endpoint deny root. The built binary runs with 256 descriptors (prlimit); `nobody` opens 400
// connections and sends nothing; root's pull, made while they are held, still succeeds, and
// the log never says "403" or "a peer whose uid the kernel does not list" about it.
const runnable = mirrorTestsRunnable();
const HOLDER_SOURCE = join(REPO_ROOT, 'test', 'fixtures', 'hold-connections.mjs');
const DESCRIPTORS = 256;
const HELD = 400;
const CAP = 64;

let up: StaticUpstream;
let home: MirrorHome;
// The holder runs as nobody, who may not enter a checkout made with `mktemp -d` (0700): the
// script and the project's Node are put where nobody can read and run them (a hard link of
// Node where the filesystem allows, else a copy).
let holderDir: string;
let holderNode: string;
let holder: string;

beforeAll(async () => {
  if (!runnable) return;
  up = await startStaticUpstream(['library/python:3.14']);
  home = await mirrorHome(join(up.dir, 'host'), up.service.url, up.token);
  holderDir = await mkdtemp(join(tmpdir(), 'holder-'));
  await chmod(holderDir, 0o755);
  holderNode = join(holderDir, 'node');
  await link(process.execPath, holderNode).catch(() => copyFile(process.execPath, holderNode));
  await chmod(holderNode, 0o755);
  holder = join(holderDir, 'hold-connections.mjs');
  await copyFile(HOLDER_SOURCE, holder);
  await chmod(holder, 0o644);
}, 60_000);
afterAll(async () => {
  await up?.stop();
  if (holderDir) await rm(holderDir, { recursive: true, force: true });
});

interface Holder {
  pid: number;
  // The holder's last report: its connections now open, closed by the endpoint, never made.
  state(): { open: number; closed: number; failed: number };
  stop(): Promise<void>;
}

// `count` idle connections to `url`, held by a process running as nobody.
async function holdAsNobody(url: string, count: number): Promise<Holder> {
  const { hostname, port } = new URL(url);
  const child = spawn(
    'setpriv',
    ['--reuid=nobody', '--regid=nogroup', '--clear-groups', holderNode, holder, hostname, port, String(count)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  trackProcess(child.pid!, 'hold-connections');
  let last = { open: 0, closed: 0, failed: 0 };
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    if (lines.length > 0) last = JSON.parse(lines.at(-1)!);
  });
  // Every connection made or failed, as the holder sees it.
  const deadline = Date.now() + 10_000;
  while (last.open + last.closed + last.failed < count && Date.now() < deadline) await sleep(50);
  if (!isRunning(child.pid!)) throw new Error('the connection holder exited early');
  return { pid: child.pid!, state: () => last, stop: () => stopProcess(child.pid!, 2_000) };
}

async function rootPulls(mirror: MirrorProcess): Promise<void> {
  const seeded = up.images.get('library/python:3.14')!;
  const manifest = await fetch(`${mirror.url}/v2/library/python/manifests/3.14`, { headers: { accept: MANIFEST_V2 } });
  expect(manifest.status, await manifest.clone().text()).toBe(200);
  expect(manifest.headers.get('docker-content-digest')).toBe(seeded.manifestDigest);
  await manifest.arrayBuffer();
  const blob = await fetch(`${mirror.url}/v2/library/python/blobs/${seeded.layerDigest}`);
  expect(blob.status).toBe(200);
  await blob.arrayBuffer();
}

function expectNoDenialOfRoot(log: string): void {
  expect(log).not.toContain('a peer whose uid the kernel does not list');
  expect(log).not.toMatch(/refused connection from uid 0\b/);
  expect(log).not.toMatch(/pull .*status=403/);
}

describe.skipIf(!runnable)(
  `mirror (built binary) with ${DESCRIPTORS} descriptors, nobody holding ${HELD} idle connections`,
  () => {
    it('nobody may not pull: its connections are closed (cap at once, the rest after the linger), root pulls', async () => {
      const mirror = await startMirror(home, ['--listen', '127.0.0.1:0', '--upstream', up.registry.url], {
        name: 'refused',
        launcher: ['prlimit', `--nofile=${DESCRIPTORS}:${DESCRIPTORS}`],
      });
      const holder = await holdAsNobody(mirror.url, HELD);
      try {
        // At once, while nobody's connections are held (the linger is 2 s).
        await rootPulls(mirror);
        // Refused and idle: none of them is left open for long.
        const deadline = Date.now() + 6_000;
        while (holder.state().open > 0 && Date.now() < deadline) await sleep(100);
        expect(holder.state().open).toBe(0);
        await rootPulls(mirror);
        const log = await logMatching(mirror, /kind=blob .*status=200/);
        expect(log).toMatch(/pull method=GET kind=manifest repository=library\/python ref=3\.14 \S+ status=200/);
        expect(log).toContain(
          `closed a connection from uid ${await uidOf('nobody')}: it already holds ${CAP} connections, the cap per uid (--max-connections-per-uid)`,
        );
        expectNoDenialOfRoot(log);
      } finally {
        await holder.stop();
        await mirror.stop();
      }
    }, 60_000);

    it('nobody allowed (--allow-uid): it keeps at most the cap, the rest closed at once, root pulls', async () => {
      const nobody = await uidOf('nobody');
      const mirror = await startMirror(
        home,
        ['--listen', '127.0.0.1:0', '--upstream', up.registry.url, '--allow-uid', String(nobody)],
        { name: 'allowed', launcher: ['prlimit', `--nofile=${DESCRIPTORS}:${DESCRIPTORS}`] },
      );
      const holder = await holdAsNobody(mirror.url, HELD);
      try {
        await sleep(1_000); // past the table lookups of the burst
        expect(holder.state().open).toBeLessThanOrEqual(CAP);
        expect(holder.state().open).toBeGreaterThan(0);
        await rootPulls(mirror);
        await expectLog(mirror, /kind=blob .*status=200/);
        const log = await mirror.log();
        expect(log).toContain(
          `closed a connection from uid ${nobody}: it already holds ${CAP} connections, the cap per uid (--max-connections-per-uid)`,
        );
        expectNoDenialOfRoot(log);
        const metrics = await (await fetch(`${mirror.url}/metrics`)).text();
        expect(Number(/^dstack_mirror_capped_connections_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
      } finally {
        await holder.stop();
        await mirror.stop();
      }
    }, 60_000);
  },
);
