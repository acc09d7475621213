// Builds self-contained executables with Node's Single Executable Applications support:
// dist/<name>-linux-<arch> for x64 and arm64, plus dist/SHA256SUMS. The runtime inside is the
// Node of this project's devDependency `node` (also the one running this script); for the
// other architecture the same Node version comes from the npm registry (node-linux-<arch>),
// because an SEA blob must be made by the Node version it runs on. Nothing else is fetched.
// The embedded Node is stripped of its symbol tables first (150 → 117 MB, same start-up): with
// binutils' `strip` for this machine's architecture and `<arch>-linux-gnu-strip` for the other
// (Debian's binutils-aarch64-linux-gnu). Where that tool is missing the binary is built
// unstripped, with a warning: larger, and otherwise the same.
//   --host-only   build for this machine's architecture only (what the tests need)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, readdir, rename, rm, writeFile, chmod, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, ENTRY_POINTS } from './build.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const hostArch = process.arch === 'arm64' ? 'arm64' : 'x64';
const hostOnly = process.argv.includes('--host-only');
const arches = hostOnly ? [hostArch] : ['x64', 'arm64'];
const version = process.version.slice(1);

async function nodeBinaryFor(arch) {
  const original = await officialNodeBinary(arch);
  const tool = stripTool(arch);
  const stripped = join(root, '.cache', `node-linux-${arch}-${version}-stripped`, 'node');
  if (existsSync(stripped)) return stripped;
  if (!tool) {
    console.error(
      `build-binary: warning: no ${stripToolName(arch)} on PATH; the ${arch} binaries embed an unstripped Node (about 33 MB larger). Install binutils${arch === hostArch ? '' : `-${GNU_ARCH[arch]}-linux-gnu`} to strip it.`,
    );
    return original;
  }
  // Stripped into a temp name and renamed, so a concurrent build never picks up half a file.
  await mkdir(dirname(stripped), { recursive: true });
  const temp = `${stripped}.${process.pid}.tmp`;
  execFileSync(tool, ['--strip-all', '-o', temp, original], { stdio: ['ignore', 'ignore', 'inherit'] });
  await rename(temp, stripped);
  return stripped;
}

const GNU_ARCH = { x64: 'x86_64', arm64: 'aarch64' };

function stripToolName(arch) {
  return arch === hostArch ? 'strip' : `${GNU_ARCH[arch]}-linux-gnu-strip`;
}

function stripTool(arch) {
  const name = stripToolName(arch);
  for (const dir of (process.env.PATH ?? '').split(':').concat('/usr/bin', '/bin')) {
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

async function officialNodeBinary(arch) {
  if (arch === hostArch) return process.execPath;
  const cacheDir = join(root, '.cache', `node-linux-${arch}-${version}`);
  const binary = join(cacheDir, 'package', 'bin', 'node');
  if (existsSync(binary)) return binary;
  await mkdir(cacheDir, { recursive: true });
  const out = execFileSync(
    'npm',
    ['pack', `node-linux-${arch}@${version}`, '--pack-destination', cacheDir, '--silent'],
    { encoding: 'utf8' },
  )
    .trim()
    .split('\n')
    .pop();
  execFileSync('tar', ['-xzf', join(cacheDir, out), '-C', cacheDir, 'package/bin/node']);
  return binary;
}

function seaConfig(main, output, blob) {
  return {
    main,
    output: blob ?? output,
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    // V8 code cache for the bundle: saves a cache-hit `get` about 2 ms of parsing (measured by
    // scripts/bench/helper.mjs). Safe because esbuild turns every import() into a require.
    // Only for the host architecture: Node's docs say a cache made by another architecture's
    // V8 gives an incompatible executable.
    useCodeCache: !blob,
    // NODE_OPTIONS and friends must not change what the binary does on a host.
    execArgvExtension: 'none',
    execArgv: ['--use-system-ca'],
  };
}

// Each binary is built under a temporary name and renamed into place, so a test that is
// running the previous binary (or a concurrent build) never sees a half-written file.
async function buildOne(name, main, arch, workDir) {
  const target = join(dist, `${name}-linux-${arch}`);
  const output = `${target}.${process.pid}.tmp`;
  const configPath = join(workDir, `${name}-${arch}.sea.json`);
  const node = await nodeBinaryFor(arch);
  if (arch === hostArch) {
    await writeFile(configPath, JSON.stringify({ ...seaConfig(main, output), executable: node }));
    execFileSync(process.execPath, ['--build-sea', configPath], { stdio: ['ignore', 'ignore', 'inherit'] });
  } else {
    const blob = join(workDir, `${name}-${arch}.blob`);
    await writeFile(configPath, JSON.stringify(seaConfig(main, output, blob)));
    execFileSync(process.execPath, ['--experimental-sea-config', configPath], { stdio: 'pipe' });
    await copyFile(node, output);
    const postject = join(root, 'node_modules', 'postject', 'dist', 'cli.js');
    // postject warns about every ELF note section it cannot name; only a failure matters.
    execFileSync(
      process.execPath,
      [postject, output, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'],
      { stdio: 'pipe' },
    );
  }
  await chmod(output, 0o755);
  await rename(output, target);
  return target;
}

const workDir = join(root, '.cache', `sea-${process.pid}`);
await mkdir(workDir, { recursive: true });
await mkdir(dist, { recursive: true });
try {
  const jsDir = await bundle(join(workDir, 'js'));
  const programs = Object.fromEntries(Object.keys(ENTRY_POINTS).map((n) => [n, join(jsDir, `${n}.cjs`)]));
  for (const arch of arches) {
    // The benchmark's floor runs on this machine only.
    const names = arch === hostArch ? { ...programs, 'node-floor': join(jsDir, 'empty.cjs') } : programs;
    for (const [name, main] of Object.entries(names)) {
      const started = Date.now();
      const out = await buildOne(name, main, arch, workDir);
      const size = (await stat(out)).size;
      console.error(`built ${out.slice(root.length + 1)} (${(size / 1e6).toFixed(0)} MB, ${Date.now() - started} ms)`);
    }
  }
  const sums = [];
  for (const file of (await readdir(dist)).sort()) {
    if (!/^(docker-credential-dstack|dstack-registry-auth)-linux-(x64|arm64)$/.test(file)) continue;
    const digest = createHash('sha256')
      .update(await readFile(join(dist, file)))
      .digest('hex');
    sums.push(`${digest}  ${file}`);
  }
  const sumsTemp = join(dist, `SHA256SUMS.${process.pid}.tmp`);
  await writeFile(sumsTemp, `${sums.join('\n')}\n`);
  await rename(sumsTemp, join(dist, 'SHA256SUMS'));
} catch (error) {
  // esbuild has already printed the compile errors; no stack trace on top of them.
  console.error(`build-binary: ${error.message.split('\n')[0]}`);
  process.exitCode = 1;
} finally {
  await rm(workDir, { recursive: true, force: true });
}
