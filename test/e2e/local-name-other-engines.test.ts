import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMirrorStack, type MirrorStack } from './harness/mirror-stack.ts';
import { clearDockerdMirrors } from './harness/engine-mirror-files.ts';
import { defaultConfig, relocate, startContainerd, type Containerd } from './harness/containerd.ts';
import { criPullImage } from './harness/cri-client.ts';
import { describeResult } from './harness/docker-cli.ts';
import { dstackRewrite } from './harness/dstack-rewrite.ts';
import { HOST_DOCKERD, packageVersion, sidRoot } from './harness/engine-matrix.ts';
import { engineCommand, upstreamVersion, type EngineRoot } from './harness/engine-roots.ts';
import { lineMatching, markLog } from './harness/log-match.ts';
import { runPodman } from './harness/podman.ts';

// Local-name mode beyond dockerd (issue 15, proof 3): containerd (ctr, and the kubelet's CRI
// PullImage on a standalone containerd 2.1 with a stock config) and podman (4.3 on the host,
// 5.8 from sid) pull dstack's rewritten name `127.0.0.1:<port>/python:3.14` from the endpoint
// over plain http, with nothing registry-specific configured. What each needs is measured
// here and written down in docs/with-dstack.md ("What each engine needs for the name"):
// containerd nothing (its default host config speaks http to a loopback name with a port),
// podman `insecure = true` for the name in registries.conf.
const sid = sidRoot();

describe('e2e: local-name mode, containerd and podman pull the rewritten name through the endpoint', () => {
  let stack: MirrorStack;
  let name: string;
  let address: string;
  beforeAll(async () => {
    stack = await startMirrorStack({ source: 'static', images: ['myteam/app:1'] });
    await clearDockerdMirrors(stack.dockerd);
    address = new URL(stack.endpoint.url).host;
    name = dstackRewrite('python:3.14', address);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  // The pull reached the endpoint by the rewritten name and the upstream by library/python, as
  // the configured user.
  async function expectThroughEndpoint(
    since: { endpoint: () => Promise<string>; registry: () => Promise<string> },
    what: string,
  ) {
    const endpointLog = await since.endpoint();
    expect(
      lineMatching(
        endpointLog,
        /kind=manifest repository=python ref=3\.14 .*upstream_repository=library\/python status=200/,
      ),
      `${what}: endpoint log\n${endpointLog}`,
    ).toBeDefined();
    expect(
      lineMatching(
        await since.registry(),
        new RegExp(
          `msg=GetImageManifest auth\\.user\\.name="?${stack.account!.username}"? .*uri=/v2/library/python/manifests/3\\.14`,
        ),
      ),
      `${what}: upstream as the configured user`,
    ).toBeDefined();
  }
  const marks = async () => ({
    endpoint: await markLog(() => stack.endpoint.log()),
    registry: await markLog(() => stack.registry.log()),
  });

  it(`containerd ${packageVersion(HOST_DOCKERD, 'containerd')} (host, dockerd's): ctr images pull of the name, no --hosts-dir, no --plain-http`, async () => {
    expect(name).toBe(`${address}/python:3.14`);
    const since = await marks();
    const ctr = (args: string[]) =>
      execa(
        'ctr',
        [
          '--address',
          join(stack.dir, 'd', 'exec', 'containerd', 'containerd.sock'),
          '--namespace',
          'e2e-local-name',
          ...args,
        ],
        { reject: false, timeout: 60_000 },
      );
    const pull = await ctr(['images', 'pull', '--snapshotter', 'native', name]);
    expect(pull.exitCode, describeResult(pull)).toBe(0);
    expect(
      lineMatching(String((await ctr(['images', 'ls'])).stdout), new RegExp(name.replace(/[.]/g, '\\.'))),
      'ctr lists the name',
    ).toContain(stack.images.get('library/python:3.14')!.manifestDigest);
    await expectThroughEndpoint(since, 'ctr 1.6');
  });

  describe(`containerd ${upstreamVersion(sid.packages, 'containerd')} (sid), standalone, upstream's stock version 3 config`, () => {
    let containerd: Containerd;
    beforeAll(async () => {
      const dir = join(stack.dir, 'ctd');
      containerd = await startContainerd({ dir, root: sid, config: relocate(await defaultConfig(sid), dir) });
    });
    afterAll(async () => {
      await containerd?.stop();
    });
    const ctr = (root: EngineRoot, args: string[]) =>
      execa(
        ...engineCommand(
          root,
          ['ctr', '--address', containerd.socket, '--namespace', 'e2e-local-name', ...args],
          [{ source: stack.dir }],
        ),
        { reject: false, timeout: 60_000 },
      );

    it('ctr 2.1 images pull --local, with an empty --hosts-dir: the default host config is plain http for a loopback name with a port', async () => {
      const hostsDir = join(stack.dir, 'empty-certs.d');
      await mkdir(hostsDir, { recursive: true });
      const since = await marks();
      const pull = await ctr(sid, [
        'images',
        'pull',
        '--local',
        '--snapshotter',
        'native',
        '--hosts-dir',
        hostsDir,
        name,
      ]);
      expect(pull.exitCode, describeResult(pull)).toBe(0);
      await expectThroughEndpoint(since, 'ctr 2.1');
    });

    it('CRI PullImage of the name (what the kubelet calls), no registry config at all', async () => {
      const since = await marks();
      const pull = await criPullImage(containerd.socket, name);
      expect(pull, JSON.stringify(pull)).toMatchObject({
        status: 0,
        imageRef: stack.images.get('library/python:3.14')!.configDigest,
      });
      await expectThroughEndpoint(since, 'CRI');
    });
  });

  // podman needs `insecure = true` for the name: the real `configure --local-name` writes it
  // (engines containerd and podman, every path under the test's dir), `doctor --local-name`
  // checks it against the running dockerd too, `unconfigure` takes it out again.
  describe('configure --local-name, podman, doctor, unconfigure', () => {
    let setupArgs: string[];
    let dropIn: string;
    beforeAll(() => {
      const dir = join(stack.dir, 'setup');
      dropIn = join(dir, 'registries.conf.d', '90-docker-credential-dstack.conf');
      setupArgs = [
        '--docker-config',
        stack.host.dockerConfigDir,
        '--daemon-json',
        stack.dockerd.daemonJsonPath,
        '--docker-certs-dir',
        stack.dockerd.certsDir,
        '--containerd-certs-dir',
        join(dir, 'containerd-certs.d'),
        '--containerd-config',
        join(dir, 'containerd-config.toml'),
        '--registries-conf-dir',
        join(dir, 'registries.conf.d'),
        '--state-dir',
        join(dir, 'state'),
        '--dockerd-pidfile',
        join(dir, 'dockerd.pid'),
      ];
    });
    // doctor takes the paths configure wrote to, not the state dir or the dockerd pidfile.
    const doctorPaths = (args: string[]) =>
      args.filter(
        (a, i) =>
          ['--docker-config', '--daemon-json', '--containerd-certs-dir', '--registries-conf-dir'].includes(a) ||
          ['--docker-config', '--daemon-json', '--containerd-certs-dir', '--registries-conf-dir'].includes(
            args[i - 1] ?? '',
          ),
      );
    const podmans: Array<{ label: string; root?: EngineRoot }> = [
      { label: `podman ${packageVersion(HOST_DOCKERD, 'podman')} (host)` },
      { label: `podman ${upstreamVersion(sid.packages, 'podman')} (sid)`, root: sid },
    ];
    const podmanIn = (index: number, conf: string) => {
      const dir = join(stack.dir, `podman-${index}`);
      const root = podmans[index]!.root;
      return async (args: string[]) => {
        await mkdir(join(dir, 'home'), { recursive: true });
        await writeFile(join(dir, 'auth.json'), '{}\n');
        return runPodman(
          {
            dir,
            env: {
              PATH: process.env.PATH ?? '/usr/bin:/bin',
              HOME: join(dir, 'home'),
              REGISTRY_AUTH_FILE: join(dir, 'auth.json'),
              CONTAINERS_REGISTRIES_CONF: conf,
            },
            ...(root ? { root } : {}),
            binds: [stack.dir],
          },
          args,
        );
      };
    };

    for (const [index, { label }] of podmans.entries()) {
      it(`${label}: refuses the plain-http name with an empty registries.conf`, async () => {
        const empty = join(stack.dir, `empty-registries-${index}.conf`);
        await writeFile(empty, '');
        const refused = await podmanIn(index, empty)(['pull', name]);
        expect(refused.exitCode, describeResult(refused)).not.toBe(0);
        expect(String(refused.stderr)).toMatch(/server gave HTTP response to HTTPS client/);
      });
    }

    it("configure --local-name writes insecure = true for the name in the drop-in, nothing in containerd's certs.d", async () => {
      const result = await stack.host.run(
        ['configure', ...setupArgs, '--engines', 'containerd,podman', '--local-name', address],
        { env: { DOCKER_HOST: stack.dockerd.host } },
      );
      expect(result.exitCode, describeResult(result)).toBe(0);
      expect(await readFile(dropIn, 'utf8')).toContain(`[[registry]]\nlocation = "${address}"\ninsecure = true\n`);
      await expect(readFile(join(stack.dir, 'setup', 'containerd-certs.d', address, 'hosts.toml'))).rejects.toThrow(
        /ENOENT/,
      );
    });

    for (const [index, { label }] of podmans.entries()) {
      it(`${label}: pulls the name with configure's drop-in as its registries.conf`, async () => {
        const podman = podmanIn(index, dropIn);
        const since = await marks();
        const pull = await podman(['pull', name]);
        expect(pull.exitCode, describeResult(pull)).toBe(0);
        const inspect = await podman(['image', 'inspect', name, '--format', '{{index .Labels "e2e.seed"}}']);
        expect(String(inspect.stdout).trim(), describeResult(inspect)).toBe('library/python:3.14');
        await expectThroughEndpoint(since, label);
      });
    }

    it('doctor --local-name: ok for the endpoint, dockerd (docker info: 127.0.0.0/8), containerd and podman; after unconfigure podman fails and the drop-in is gone', async () => {
      const doctor = () =>
        stack.host.run(
          ['doctor', ...doctorPaths(setupArgs), '--engines', 'docker,containerd,podman', '--local-name', address],
          { env: { DOCKER_HOST: stack.dockerd.host } },
        );
      const lines = (out: string) => out.split('\n').filter((l) => / local name, /.test(l));
      const ok = await doctor();
      expect(
        lines(String(ok.stdout)).map((l) => l.slice(0, 4)),
        String(ok.stdout),
      ).toEqual(['ok  ', 'ok  ', 'ok  ', 'ok  ']);
      expect(String(ok.stdout)).toContain(
        `ok   local name, dockerd: docker info lists 127.0.0.0/8 as insecure: dockerd pulls ${address}/… over http, nothing to write`,
      );

      const undo = await stack.host.run([
        'unconfigure',
        '--state-dir',
        join(stack.dir, 'setup', 'state'),
        '--no-reload',
      ]);
      expect(undo.exitCode, describeResult(undo)).toBe(0);
      await expect(readFile(dropIn)).rejects.toThrow(/ENOENT/);
      const after = await doctor();
      expect(after.exitCode).toBe(1);
      expect(String(after.stdout)).toMatch(
        new RegExp(`^fail local name, podman: no drop-in in .* names ${address.replace(/\./g, '\\.')}`, 'm'),
      );
    });
  });
});
