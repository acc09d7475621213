import { defineConfig } from 'vitest/config';

// Three projects (docs/architecture.md, "Tests"):
// - unit: the code itself, in process; no built binary, no daemon; runs in parallel and fast;
// - binary: the built binaries (dist/) against real services, registries and Postgres;
// - e2e: real engines (dockerd, containerd, podman, the matrix roots), one file at a time.
export default defineConfig({
  test: {
    // Fails the run when a test changed what configure or the helper write by default (/etc, /run).
    globalSetup: ['test/helpers/host-paths-guard.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**', 'test/binary/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'binary',
          include: ['test/binary/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
