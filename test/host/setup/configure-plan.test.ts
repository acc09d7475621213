import { afterEach, beforeEach, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planConfigure } from '../../../src/host/setup/configure-plan.ts';
import { parseSetupOptions } from '../../../src/host/setup/setup-options.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dstack-plan-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it("with dockerd's containerd image store, also plans /etc/docker/certs.d/docker.io/hosts.toml; never writes", async () => {
  const options = parseSetupOptions(
    [
      '--docker-config',
      join(dir, 'c'),
      '--daemon-json',
      join(dir, 'daemon.json'),
      '--docker-certs-dir',
      join(dir, 'certs.d'),
      '--state-dir',
      join(dir, 's'),
    ],
    {},
  );
  const input = {
    options,
    keys: ['https://index.docker.io/v1/'],
    mirrors: ['https://mirror.example'],
    engines: ['docker' as const],
  };
  const classic = await planConfigure({ ...input, dockerContainerdStore: false });
  expect(classic.files.map((f) => f.label)).toEqual(['Docker client config', 'Docker daemon config']);
  const store = await planConfigure({ ...input, dockerContainerdStore: true });
  const hosts = store.files.find((f) => f.path === join(dir, 'certs.d', 'docker.io', 'hosts.toml'));
  expect(hosts?.after).toContain('[host."https://mirror.example"]');
  expect(hosts?.before).toBeUndefined();
});

it('reads the engines list and refuses an unknown engine', () => {
  expect(parseSetupOptions(['--engines', 'podman,docker'], {}).engines).toEqual(['podman', 'docker']);
  expect(() => parseSetupOptions(['--engines', 'docker,lxc'], {})).toThrow(/unknown engine "lxc"/);
  expect(parseSetupOptions([], { DOCKER_CONFIG: '/x/.docker' }).dockerConfigDir).toBe('/x/.docker');
  expect(() => parseSetupOptions(['--bogus'], {})).toThrow(/--bogus/);
});
