import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerd, type Dockerd } from './harness/dockerd.ts';
import { startRegistry, type RegistryProcess } from '../helpers/registry-process.ts';
import { seedImage } from '../helpers/seed-image.ts';

// The harness without our binaries: a hand-built image seeded into an open registry is pulled
// by a private engine through registry-mirrors, so failures elsewhere are not harness faults.
describe('harness: seeded open registry as a mirror', () => {
  let dir: string;
  let registry: RegistryProcess;
  let dockerd: Dockerd;

  beforeAll(async () => {
    dir = await mkdtemp('/tmp/e2e-');
    registry = await startRegistry({ dir: join(dir, 'reg') });
    dockerd = await startDockerd({ dir: join(dir, 'd'), daemonJson: { 'registry-mirrors': [registry.url] } });
  });
  afterAll(async () => {
    await dockerd?.stop();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('pulls library/python:3.14 through the mirror and the engine holds the seeded image', async () => {
    const seeded = await seedImage({ registryUrl: registry.url, repository: 'library/python', tag: '3.14' });
    const emptyConfig = await mkdtemp('/tmp/e2e-cfg-');
    try {
      const env = { DOCKER_HOST: dockerd.host, DOCKER_CONFIG: emptyConfig };
      const pull = await execa('docker', ['pull', 'python:3.14'], { env, reject: false });
      expect(pull.exitCode, pull.stderr).toBe(0);
      const { stdout } = await execa(
        'docker',
        ['image', 'inspect', 'python:3.14', '--format', '{{.Id}} {{index .Config.Labels "e2e.seed"}}'],
        { env },
      );
      expect(stdout.trim()).toBe(`${seeded.configDigest} library/python:3.14`);
      expect(
        (await registry.log()).includes('/v2/library/python/manifests/3.14'),
        'registry served the mirror path',
      ).toBe(true);
    } finally {
      await rm(emptyConfig, { recursive: true, force: true });
    }
  });
});
