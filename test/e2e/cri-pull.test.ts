import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMirrorStack, type MirrorStack } from './harness/mirror-stack.ts';
import { defaultConfig, packagedConfig, relocate, startContainerd } from './harness/containerd.ts';
import { criPullImage } from './harness/cri-client.ts';
import { sidRoot } from './harness/engine-matrix.ts';
import { inRoot, upstreamVersion } from './harness/engine-roots.ts';
import { lineMatching, markLog } from './harness/log-match.ts';
import { describeResult } from './harness/docker-cli.ts';
import { freeLoopbackPort } from '../helpers/free-port.ts';

// What the kubelet calls: a CRI PullImage on a standalone containerd 2.x (issue 16, fix 1).
// Its CRI reads the hosts directory only when its config names it, under a key that differs
// by config version; on a stock config the pull goes straight to Docker Hub. configure sets
// the key for the file's version, doctor tells the two apart, unconfigure gives the bytes back.
const root = sidRoot();
const CONTAINERD = `containerd ${upstreamVersion(root.packages, 'containerd')} (sid)`;
const PULL_200 = /pull method=(GET|HEAD) kind=manifest repository=library\/python ref=3\.14 .*status=200/;

describe(`e2e: CRI PullImage on ${CONTAINERD}`, () => {
  let stack: MirrorStack;
  let binDir: string;
  beforeAll(async () => {
    stack = await startMirrorStack({ source: 'issuer' });
    // configure and doctor ask `containerd --version`: the node's containerd is the root's.
    binDir = join(stack.dir, 'node-bin');
    await mkdir(binDir, { recursive: true });
    const [file, args] = inRoot(root, ['containerd']);
    await writeFile(
      join(binDir, 'containerd'),
      `#!/bin/sh\nexec ${[file, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ')} "$@"\n`,
    );
    await chmod(join(binDir, 'containerd'), 0o755);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  // A node whose only engine is containerd: its config.toml, its certs.d, our setup state.
  const node = (dir: string) => ({
    config: join(dir, 'config.toml'),
    certs: join(dir, 'certs.d'),
    args: [
      '--engines',
      'containerd',
      '--containerd-config',
      join(dir, 'config.toml'),
      '--containerd-certs-dir',
      join(dir, 'certs.d'),
    ],
  });
  const helper = async (dir: string, args: string[]) =>
    stack.host.run([...args, ...node(dir).args], {
      env: {
        PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        DOCKER_CREDENTIAL_DSTACK_HUB_PROBE: `127.0.0.1:${await freeLoopbackPort()}`,
      },
    });
  const setup = (dir: string) => ['--state-dir', join(dir, 'state'), `--mirror-endpoint=${stack.endpoint.url}`];

  const configs = [
    { name: 'upstream default, version 3', text: () => defaultConfig(root) },
    { name: 'Debian package, version 2', text: async () => packagedConfig(root) },
  ];

  for (const config of configs) {
    it(`${config.name}: stock, doctor fails naming the file; after configure the pull goes through the endpoint; unconfigure restores it`, async () => {
      const dir = join(stack.dir, `ctd-${configs.indexOf(config)}`);
      await mkdir(dir, { recursive: true });
      const stock = relocate(await config.text(), dir);
      await writeFile(node(dir).config, stock);

      const before = await helper(dir, ['doctor', `--mirror-endpoint=${stack.endpoint.url}`]);
      expect(before.exitCode, describeResult(before)).not.toBe(0);
      expect(lineMatching(String(before.stdout), /^fail containerd CRI: /), describeResult(before)).toContain(
        node(dir).config,
      );

      const configured = await helper(dir, ['configure', ...setup(dir)]);
      expect(configured.exitCode, describeResult(configured)).toBe(0);
      expect(String(configured.stdout)).toMatch(
        /^containerd: restart it for CRI to read the new config_path: systemctl restart containerd$/m,
      );

      // The restart configure asks for: containerd starts on the file configure wrote.
      const containerd = await startContainerd({
        dir,
        root,
        config: await readFile(node(dir).config, 'utf8'),
        binds: [node(dir).certs],
      });
      try {
        const sinceEndpoint = await markLog(() => stack.endpoint.log());
        const pull = await criPullImage(containerd.socket, 'docker.io/library/python:3.14');
        expect(pull, JSON.stringify(pull)).toMatchObject({
          status: 0,
          imageRef: stack.images.get('library/python:3.14')!.configDigest,
        });
        expect(lineMatching(await sinceEndpoint(), PULL_200)).toBeDefined();
      } finally {
        await containerd.stop();
      }
      const after = await helper(dir, ['doctor', `--mirror-endpoint=${stack.endpoint.url}`]);
      expect(lineMatching(String(after.stdout), /containerd CRI: /), describeResult(after)).toMatch(/^ok /);

      const undone = await helper(dir, ['unconfigure', '--state-dir', join(dir, 'state')]);
      expect(undone.exitCode, describeResult(undone)).toBe(0);
      expect(await readFile(node(dir).config, 'utf8')).toBe(stock);
    });
  }

  const bypasses = [
    {
      name: 'upstream default, version 3, untouched',
      text: async (dir: string) => relocate(await defaultConfig(root), dir),
    },
    // The version 2 key that configure's old note named: a version 3 config ignores it, silently.
    {
      name: 'upstream default, version 3, with the version 2 key set',
      text: async (dir: string) =>
        `${relocate(await defaultConfig(root), dir)}\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = '${stack.engineFiles.containerdHostsDir}'\n`,
    },
  ];
  for (const bypass of bypasses) {
    it(`${bypass.name}: the pull never reaches the endpoint`, async () => {
      const dir = join(stack.dir, `ctd-bypass-${bypasses.indexOf(bypass)}`);
      const containerd = await startContainerd({
        dir,
        root,
        config: await bypass.text(dir),
        binds: [stack.engineFiles.containerdHostsDir],
      });
      try {
        const sinceEndpoint = await markLog(() => stack.endpoint.log());
        const pull = await criPullImage(containerd.socket, 'docker.io/library/python:3.14', 30_000);
        expect(pull.status, JSON.stringify(pull)).not.toBe(0);
        expect(pull.message).toMatch(/registry-1\.docker\.io/);
        expect(await sinceEndpoint(), 'the endpoint was not asked').toBe('');
      } finally {
        await containerd.stop();
      }
    });
  }
});
