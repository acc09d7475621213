// Bundles each entry point into one CommonJS file for Node's Single Executable Applications.
// Modules reached only through `await import()` stay lazy inside the bundle (esbuild wraps
// them), which keeps the helper's cache-hit path from evaluating the HTTP client at all.
import { build } from 'esbuild';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ENTRY_POINTS = {
  'docker-credential-dstack': 'src/bin/docker-credential-dstack.ts',
  'dstack-registry-auth': 'src/bin/dstack-registry-auth.ts',
};

export async function bundle(outdir = join(root, 'dist', 'js')) {
  await mkdir(outdir, { recursive: true });
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
  await build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(ENTRY_POINTS)),
    outdir,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    external: ['pg-native'],
    legalComments: 'none',
    logLevel: 'warning',
    define: { __VERSION__: JSON.stringify(version) },
  });
  // The start-up floor the benchmark compares against: the same runtime doing nothing.
  await writeFile(join(outdir, 'empty.cjs'), '"use strict";\n');
  return outdir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundle();
}
