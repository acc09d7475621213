import { REPO_ROOT } from '../../helpers/repo-root.ts';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

// The release artefacts `npm run build:binary` makes: both architectures, with checksums.
// The arm64 binaries run here under qemu's user-mode emulation with Debian's arm64 libraries.
const dist = join(REPO_ROOT, 'dist');
const QEMU = '/usr/bin/qemu-aarch64-static';
const ARM64_ROOT = '/usr/aarch64-linux-gnu';
const PROGRAMS = ['docker-credential-dstack', 'dstack-registry-auth'];
const canEmulate = existsSync(QEMU) && existsSync(join(ARM64_ROOT, 'lib', 'libatomic.so.1'));

describe('release binaries', () => {
  it('SHA256SUMS names every binary of both architectures with its digest', () => {
    const sums = readFileSync(join(dist, 'SHA256SUMS'), 'utf8').trim().split('\n');
    const names = sums.map((line) => line.split(/\s+/)[1]).sort();
    expect(names).toEqual(PROGRAMS.flatMap((p) => [`${p}-linux-arm64`, `${p}-linux-x64`]).sort());
    for (const line of sums) {
      const [digest, name] = line.split(/\s+/);
      expect(
        createHash('sha256')
          .update(readFileSync(join(dist, name!)))
          .digest('hex'),
      ).toBe(digest);
    }
  });

  it.skipIf(!canEmulate && process.env.CI !== 'true')(
    'arm64 binaries start and answer under emulation',
    async () => {
      expect(
        canEmulate,
        `${QEMU} and arm64 libraries under ${ARM64_ROOT} are needed: run scripts/e2e/install-packages.sh as root`,
      ).toBe(true);
      const run = (name: string, args: string[], input = '') =>
        execa(QEMU, ['-L', ARM64_ROOT, join(dist, `${name}-linux-arm64`), ...args], {
          input,
          reject: false,
          env: {},
          extendEnv: false,
        });
      const helper = await run('docker-credential-dstack', ['--version']);
      expect(helper.stdout).toMatch(/^docker-credential-dstack \d+\.\d+\.\d+/);
      const server = await run('dstack-registry-auth', ['--version']);
      expect(server.stdout).toMatch(/^dstack-registry-auth \d+\.\d+\.\d+/);
      // The protocol path (lazily loaded modules) works too: empty input is the protocol's own error.
      const get = await run('docker-credential-dstack', ['get'], '\n');
      expect(get.exitCode).toBe(1);
      expect(get.stdout.trim()).toBe('no credentials server URL');
    },
    60_000,
  );
});
