import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startDockerd } from './harness/dockerd.ts';
import { dockerdMatrix } from './harness/engine-matrix.ts';
import { isRunning } from '../helpers/reaper.ts';

// The matrix harness itself: each dockerd of the matrix is the version and store its title
// says, reloads registry-mirrors on SIGHUP, and leaves no mount behind when it stops.
describe.each(dockerdMatrix())('matrix engine $label', (engine) => {
  it('answers with its own version and store, reloads mirrors, stops with nothing mounted', async () => {
    const dir = await mkdtemp('/tmp/e2e-');
    try {
      const dockerd = await startDockerd({ dir, daemonJson: {}, engine });
      try {
        const info = await dockerd.info();
        expect(info.ServerVersion, 'ServerVersion').toMatch(new RegExp(`^${engine.version.replaceAll('.', '\\.')}\\b`));
        // The containerd store reports its snapshotter as the driver type.
        const driverType = (info.DriverStatus ?? []).find((pair: string[]) => pair[0] === 'driver-type')?.[1];
        if (engine.containerdStore) expect(driverType).toBe('io.containerd.snapshotter.v1');
        else expect(driverType).toBeUndefined();
        await writeFile(dockerd.daemonJsonPath, JSON.stringify({ 'registry-mirrors': ['http://127.0.0.1:5999'] }));
        await dockerd.reload();
        expect((await dockerd.info()).RegistryConfig.Mirrors).toEqual(['http://127.0.0.1:5999/']);
      } finally {
        await dockerd.stop();
      }
      expect(isRunning(dockerd.pid)).toBe(false);
      // The root's mounts lived in the engine's own mount namespace and went with it.
      expect(
        readFileSync('/proc/self/mountinfo', 'utf8')
          .split('\n')
          .filter((line) => line.includes(dir)),
      ).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
