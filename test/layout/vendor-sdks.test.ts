import { resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';

// The cloud vendors' SDKs (docs/cloud-registries.md) stay out of the host binary altogether and
// are loaded by the service only through a dynamic import: a host needs none of them, and the
// service pays their load time only when a registry with that source is configured. Checked on
// the bundles the binaries are built from (scripts/build.mjs), as esbuild sees them.
const ROOT = resolve(import.meta.dirname, '../..');
// The entry points of scripts/build.mjs.
const ENTRY_POINTS = {
  'docker-credential-dstack': 'src/bin/docker-credential-dstack.ts',
  'dstack-registry-auth': 'src/bin/dstack-registry-auth.ts',
};
const VENDOR = /node_modules\/(@aws-sdk|@smithy|@aws-crypto|google-auth-library|gaxios|gcp-metadata|@azure)\//;

async function metafileOf(entry: string): Promise<Metafile> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    external: ['pg-native'],
    write: false,
    metafile: true,
    logLevel: 'silent',
    outdir: '/tmp/unused',
  });
  return result.metafile;
}

describe('vendor SDKs in the bundles', () => {
  it('the host binary contains none of them', async () => {
    const inputs = Object.keys((await metafileOf(ENTRY_POINTS['docker-credential-dstack'])).inputs);
    expect(inputs.length).toBeGreaterThan(50);
    expect(inputs.filter((path) => VENDOR.test(path))).toEqual([]);
  });

  it('the service reaches them only through a dynamic import of its minters', async () => {
    const { inputs } = await metafileOf(ENTRY_POINTS['dstack-registry-auth']);
    expect(
      Object.keys(inputs).some((path) => path.includes('node_modules/@aws-sdk/client-ecr/')),
      'the ECR SDK is bundled into the service',
    ).toBe(true);
    // Every first-party file that imports a vendor package is a minter, and every import of a
    // minter is dynamic.
    const importers = Object.entries(inputs).filter(
      ([path, input]) => path.startsWith('src/') && input.imports.some((i) => VENDOR.test(i.path)),
    );
    expect(importers.map(([path]) => path).sort()).toEqual(
      expect.arrayContaining(['src/service/sources/cloud/ecr-minter.ts']),
    );
    for (const [path] of importers)
      expect(path, `${path} imports a vendor SDK`).toMatch(/^src\/service\/sources\/cloud\/[a-z]+-minter\.ts$/);
    for (const [path, input] of Object.entries(inputs)) {
      for (const imported of input.imports) {
        if (/sources\/cloud\/[a-z]+-minter\.ts$/.test(imported.path))
          expect(imported.kind, `${path} imports ${imported.path}`).toBe('dynamic-import');
      }
    }
  });
});
