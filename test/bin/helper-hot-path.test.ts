import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a build script in plain JavaScript, no type declarations
import { bundle } from '../../scripts/build.mjs';
import { openFileCache } from '../../src/host/cache/file-cache.ts';
import { Secret } from '../../src/common/secret.ts';

// The bundle that goes into the binary, run by the same Node with a preload that lists the
// built-in modules loaded after start-up: a cache-hit `get` must not load the HTTP stack,
// crypto or the stream machinery (see docs/helper.md, "Hot path").
const HUB = 'https://index.docker.io/v1/';
let dir: string;
let script: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dcd-hot-'));
  script = join(await bundle(join(dir, 'js')), 'docker-credential-dstack.cjs');
  await writeFile(
    join(dir, 'probe.cjs'),
    `const base = new Set(process.moduleLoadList);
process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(join(dir, 'loaded.txt'))}, process.moduleLoadList.filter((m) => !base.has(m)).join('\\n')));\n`,
  );
  await writeFile(join(dir, 'config.json'), '{}');
  await openFileCache(join(dir, 'cache')).write({
    kind: 'credential',
    registry: HUB,
    username: 'u',
    secret: new Secret('hot-secret'),
    issuedAt: new Date(),
    expiresAt: new Date(Date.now() + 3_600_000),
  });
}, 60_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('cache-hit get: what it loads', () => {
  it('answers from the cache without loading net, http, https, tls, crypto or streams', async () => {
    const result = await execa(process.execPath, ['-r', join(dir, 'probe.cjs'), script, 'get'], {
      input: HUB,
      extendEnv: false,
      env: {
        DOCKER_CREDENTIAL_DSTACK_SERVER: 'http://127.0.0.1:1',
        DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: join(dir, 'cache'),
        DOCKER_CREDENTIAL_DSTACK_CONFIG: join(dir, 'config.json'),
      },
      reject: false,
    });
    expect(result.stdout).toBe(`{"ServerURL":"${HUB}","Username":"u","Secret":"hot-secret"}`);
    const { readFile } = await import('node:fs/promises');
    const loaded = (await readFile(join(dir, 'loaded.txt'), 'utf8')).split('\n').filter(Boolean);
    const forbidden = loaded.filter((m) =>
      /NativeModule (net|http|https|tls|crypto|stream|_http_\w+|internal\/(http|tls|crypto|streams)\b)/.test(m),
    );
    expect(forbidden).toEqual([]);
  });
});
