import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMirrorStack, type MirrorStack } from './harness/mirror-stack.ts';
import { defaultConfig, packagedConfig, relocate, startContainerd } from './harness/containerd.ts';
import { criPullImage } from './harness/cri-client.ts';
import { sidRoot } from './harness/engine-matrix.ts';
import { upstreamVersion } from './harness/engine-roots.ts';
import { lineMatching, markLog } from './harness/log-match.ts';

// What the kubelet calls: a CRI PullImage on a standalone containerd 2.x (issue 16, fix 1).
// Its CRI reads the hosts directory only when its config names it, under a key that differs
// by config version; on a stock config the pull goes straight to Docker Hub.
const root = sidRoot();
const CONTAINERD = `containerd ${upstreamVersion(root.packages, 'containerd')} (sid)`;

describe(`e2e: CRI PullImage on ${CONTAINERD}`, () => {
  let stack: MirrorStack;
  beforeAll(async () => {
    stack = await startMirrorStack({ source: 'issuer' });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const configs = [
    { name: 'upstream default, version 3', text: () => defaultConfig(root) },
    { name: 'Debian package, version 2', text: async () => packagedConfig(root) },
  ];

  for (const config of configs) {
    it(`${config.name}, hosts directory named: the pull goes through the endpoint`, async () => {
      const dir = join(stack.dir, `ctd-${configs.indexOf(config)}`);
      const text = relocate(await config.text(), dir);
      const hostsKey = /^version = 3/m.test(text) ? `[plugins.'io.containerd.cri.v1.images'.registry]` : `[plugins."io.containerd.grpc.v1.cri".registry]`;
      const named = text.includes(hostsKey)
        ? text.replace(/(\[plugins\.['"]io\.containerd\.(?:cri\.v1\.images|grpc\.v1\.cri)['"]\.registry\]\n\s*config_path = )''/, `$1'${stack.engineFiles.containerdHostsDir}'`)
        : `${text}\n${hostsKey}\n  config_path = '${stack.engineFiles.containerdHostsDir}'\n`;
      const containerd = await startContainerd({ dir, root, config: named, binds: [stack.engineFiles.containerdHostsDir] });
      try {
        const sinceEndpoint = await markLog(() => stack.endpoint.log());
        const pull = await criPullImage(containerd.socket, 'docker.io/library/python:3.14');
        expect(pull, JSON.stringify(pull)).toMatchObject({ status: 0, imageRef: stack.images.get('library/python:3.14')!.configDigest });
        expect(lineMatching(await sinceEndpoint(), /pull method=(GET|HEAD) kind=manifest repository=library\/python ref=3\.14 .*status=200/)).toBeDefined();
      } finally {
        await containerd.stop();
      }
    });
  }

  const bypasses = [
    { name: 'upstream default, version 3, untouched', text: async (dir: string) => relocate(await defaultConfig(root), dir) },
    // The version 2 key that configure's old note named: a version 3 config ignores it, silently.
    {
      name: 'upstream default, version 3, with the version 2 key set',
      text: async (dir: string) => `${relocate(await defaultConfig(root), dir)}\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = '${stack.engineFiles.containerdHostsDir}'\n`,
    },
  ];
  for (const bypass of bypasses) it(`${bypass.name}: the pull never reaches the endpoint`, async () => {
    const dir = join(stack.dir, `ctd-bypass-${bypasses.indexOf(bypass)}`);
    const containerd = await startContainerd({ dir, root, config: await bypass.text(dir), binds: [stack.engineFiles.containerdHostsDir] });
    try {
      const sinceEndpoint = await markLog(() => stack.endpoint.log());
      const pull = await criPullImage(containerd.socket, 'docker.io/library/python:3.14', 30_000);
      expect(pull.status, JSON.stringify(pull)).not.toBe(0);
      expect(pull.message).toMatch(/registry-1\.docker\.io|docker\.io/);
      expect(await sinceEndpoint(), 'the endpoint was not asked').toBe('');
    } finally {
      await containerd.stop();
    }
  });
});
