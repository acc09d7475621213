import { mkdtemp, rm } from 'node:fs/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { startDockerd } from './harness/dockerd.ts';
import { isRunning } from '../helpers/reaper.ts';

// The harness itself: a private engine answers on its own socket, reloads mirrors, and stops.
describe('private dockerd', () => {
  it('starts, reloads registry-mirrors on SIGHUP and stops by PID', async () => {
    const dir = await mkdtemp('/tmp/e2e-');
    try {
      const dockerd = await startDockerd({ dir, daemonJson: {} });
      try {
        const { stdout } = await execa('docker', ['info', '--format', '{{.Driver}}'], {
          env: { DOCKER_HOST: dockerd.host },
        });
        expect(stdout.trim()).toBe('vfs');
        const { writeFile } = await import('node:fs/promises');
        await writeFile(dockerd.daemonJsonPath, JSON.stringify({ 'registry-mirrors': ['http://127.0.0.1:5999'] }));
        await dockerd.reload();
        const info = await dockerd.info();
        expect(info.RegistryConfig.Mirrors).toEqual(['http://127.0.0.1:5999/']);
      } finally {
        await dockerd.stop();
      }
      expect(isRunning(dockerd.pid)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
