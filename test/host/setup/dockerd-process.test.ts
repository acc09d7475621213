import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  environmentFilesWithMirrorFlag,
  findDockerdPid,
  hasRegistryMirrorFlag,
  systemdUnitsWithMirrorFlag,
} from '../../../src/host/setup/engines/dockerd-process.ts';
import { parseDockerInfo, describeImageStore } from '../../../src/host/setup/engines/docker-engine.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dstack-proc-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fakeProcess(pid: number, comm: string, args: string[]): Promise<void> {
  await mkdir(join(dir, 'proc', String(pid)), { recursive: true });
  await writeFile(join(dir, 'proc', String(pid), 'comm'), `${comm}\n`);
  await writeFile(join(dir, 'proc', String(pid), 'cmdline'), `${args.join('\0')}\0`);
}

describe('finding the dockerd to reload', () => {
  it('takes only a dockerd that reads the daemon.json being configured', async () => {
    await fakeProcess(100, 'containerd', ['containerd']);
    await fakeProcess(200, 'dockerd', ['dockerd', '--config-file', '/srv/other/daemon.json']);
    await fakeProcess(300, 'dockerd', ['/usr/bin/dockerd', '-H', 'fd://']);
    const procDir = join(dir, 'proc');
    const pidfile = join(dir, 'missing.pid');
    expect(await findDockerdPid({ procDir, daemonJson: '/etc/docker/daemon.json', pidfile: undefined })).toBe(300);
    expect(await findDockerdPid({ procDir, daemonJson: '/srv/other/daemon.json' })).toBe(200);
    expect(await findDockerdPid({ procDir, daemonJson: '/nowhere/daemon.json' })).toBeUndefined();
    expect(await findDockerdPid({ procDir, pidfile })).toBeUndefined();
    await writeFile(pidfile, '200\n');
    expect(await findDockerdPid({ procDir, pidfile })).toBe(200);
    expect(await findDockerdPid({ procDir, pid: 100 })).toBeUndefined();
  });

  it('sees a --registry-mirror flag in a command line and in systemd units and drop-ins', async () => {
    expect(hasRegistryMirrorFlag(['dockerd', '--registry-mirror=https://m'])).toBe(true);
    expect(hasRegistryMirrorFlag(['dockerd', '--registry-mirror', 'https://m'])).toBe(true);
    expect(hasRegistryMirrorFlag(['dockerd', '--insecure-registry', 'x'])).toBe(false);
    const unit = join(dir, 'docker.service');
    await writeFile(unit, '[Service]\nExecStart=/usr/bin/dockerd -H fd://\n# --registry-mirror in a comment\n');
    expect(await systemdUnitsWithMirrorFlag([unit])).toEqual([]);
    await mkdir(`${unit}.d`);
    await writeFile(
      join(`${unit}.d`, 'mirror.conf'),
      '[Service]\nExecStart=\nExecStart=/usr/bin/dockerd --registry-mirror=https://m\n',
    );
    expect(await systemdUnitsWithMirrorFlag([unit])).toEqual([join(`${unit}.d`, 'mirror.conf')]);
  });

  it('sees a --registry-mirror flag in DOCKER_OPTS / OPTIONS of the environment files, not in comments', async () => {
    const debian = join(dir, 'default-docker');
    const redhat = join(dir, 'sysconfig-docker');
    await writeFile(debian, '# DOCKER_OPTS="--registry-mirror=https://commented"\nDOCKER_OPTS="--dns 8.8.8.8"\n');
    await writeFile(redhat, "OPTIONS='--selinux-enabled --registry-mirror https://m'\n");
    expect(await environmentFilesWithMirrorFlag([debian, redhat, join(dir, 'missing')])).toEqual([redhat]);
    await writeFile(debian, 'export DOCKER_OPTS="--registry-mirror=https://m"\n');
    expect(await environmentFilesWithMirrorFlag([debian])).toEqual([debian]);
  });
});

describe('docker info', () => {
  it('tells the containerd image store from the classic one', () => {
    const classic = parseDockerInfo({
      ServerVersion: '20.10.24',
      Driver: 'overlay2',
      DriverStatus: [['Backing Filesystem', 'extfs']],
      RegistryConfig: {
        Mirrors: ['https://m.example/'],
        InsecureRegistryCIDRs: ['127.0.0.0/8'],
        IndexConfigs: { 'docker.io': { Secure: true }, 'r.example:5000': { Secure: false } },
      },
    });
    expect(classic).toEqual({
      mirrors: ['https://m.example/'],
      driver: 'overlay2',
      containerdStore: false,
      serverVersion: '20.10.24',
      insecureCidrs: ['127.0.0.0/8'],
      insecureNames: ['r.example:5000'],
    });
    expect(describeImageStore(classic)).toMatch(/classic image store/);
    const snapshotter = parseDockerInfo({
      ServerVersion: '28.0.0',
      Driver: 'overlayfs',
      DriverStatus: [['driver-type', 'io.containerd.snapshotter.v1']],
      RegistryConfig: {},
    });
    expect(snapshotter.containerdStore).toBe(true);
    expect(describeImageStore(snapshotter)).toMatch(/sends NO credentials to registry mirrors/);
  });
});
