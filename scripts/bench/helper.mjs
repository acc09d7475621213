// npm run bench: the helper binary's cost per `get`, side by side in one run.
//   cache-hit get, cache-miss get (against a loopback contract server), `version`, the floor
//   (dist/node-floor: the same embedded Node running an empty script), and Go helpers where
//   installed, each as a ratio to the floor; then N concurrent gets → server requests.
// Environment: BENCH_RUNS (default 40), BENCH_CONCURRENT (default 20).
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createSeries, record, summarize, table, timeOnce } from './lib-measure.mjs';
import { startContractServer, TEST_INSTANCE_TOKEN } from '../../test/helpers/contract-server.ts';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
const helper = join(root, 'dist', `docker-credential-dstack-linux-${arch}`);
const floor = join(root, 'dist', `node-floor-linux-${arch}`);
const runs = Number(process.env.BENCH_RUNS ?? 40);
const concurrent = Number(process.env.BENCH_CONCURRENT ?? 20);
const HUB = 'https://index.docker.io/v1/';

for (const binary of [helper, floor]) {
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run npm run -s build:binary -- --host-only`);
}

function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat('/usr/bin', '/usr/local/bin')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

const dir = await mkdtemp(join(tmpdir(), 'dcd-bench-'));
const server = await startContractServer({
  credentials: { [HUB]: { username: 'bench', secret: 'bench-secret', ttlMs: 3_600_000 } },
});
try {
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, TEST_INSTANCE_TOKEN, { mode: 0o600 });
  await writeFile(join(dir, 'config.json'), '{}');
  const env = (cacheDir) => ({
    DOCKER_CREDENTIAL_DSTACK_SERVER: server.url,
    DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: tokenFile,
    DOCKER_CREDENTIAL_DSTACK_CONFIG: join(dir, 'config.json'),
    DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: cacheDir,
  });
  const hitCache = join(dir, 'hit-cache');
  const warm = (await timeOnce(helper, ['get'], { input: HUB, env: env(hitCache), cwd: dir })).result;
  if (warm.status !== 0) throw new Error(`warm-up get failed: ${warm.stdout}`);

  const cases = [
    { name: 'floor (empty script)', command: floor, args: [], isFloor: true },
    { name: 'dstack get, cache hit', command: helper, args: ['get'], input: HUB, env: () => env(hitCache), expect: 0 },
    {
      name: 'dstack get, cache miss',
      command: helper,
      args: ['get'],
      input: HUB,
      env: (i) => env(join(dir, `miss-${i}`)),
      expect: 0,
    },
    { name: 'dstack version', command: helper, args: ['version'], expect: 0 },
  ];
  for (const [name, args] of [
    ['docker-credential-pass', ['version']],
    ['docker-credential-ecr-login', ['version']],
  ]) {
    const path = findOnPath(name);
    if (path) cases.push({ name: `${name} ${args.join(' ')} (Go)`, command: path, args });
  }

  const series = cases.map((c) => createSeries(c.name));
  const serverBefore = server.credentialRequests();
  for (let i = 0; i < runs; i++) {
    for (const [index, c] of cases.entries()) {
      const result = await record(series[index], () =>
        timeOnce(c.command, c.args, { input: c.input ?? '', env: c.env ? c.env(i) : {}, cwd: dir }),
      );
      if (c.expect !== undefined && result.status !== c.expect)
        throw new Error(`${c.name} exited ${result.status}: ${result.stdout}${result.stderr}`);
    }
  }
  const misses = server.credentialRequests() - serverBefore;

  const summaries = series.map(summarize);
  const base = summaries[0];
  const rows = summaries.map((s) => [
    s.name,
    s.median.toFixed(1),
    s.p95.toFixed(1),
    `${(s.median / base.median).toFixed(2)}×`,
    s.cpu.toFixed(1),
    `${(s.cpu / base.cpu).toFixed(2)}×`,
  ]);
  console.log(
    `docker-credential-dstack benchmark: ${runs} interleaved runs per case, ${process.arch}, Node ${process.versions.node}\n`,
  );
  console.log(table(['case', 'median ms', 'p95 ms', '× floor', 'cpu ms', 'cpu × floor'], rows));
  console.log(
    `\nserver requests during the ${runs} cache-miss gets: ${misses} (expected ${runs}); during the cache-hit gets: 0 expected`,
  );

  // N concurrent gets on an empty cache, the way compose pulls N images at once.
  const burstCache = join(dir, 'burst-cache');
  server.fallback = { kind: 'delay', ms: 100 };
  const before = server.credentialRequests();
  const started = Date.now();
  const codes = await Promise.all(
    Array.from({ length: concurrent }, () => runAsync(helper, ['get'], HUB, env(burstCache))),
  );
  const elapsed = Date.now() - started;
  const requests = server.credentialRequests() - before;
  const failed = codes.filter((code) => code !== 0).length;
  console.log(
    `${concurrent} concurrent gets (empty cache, server answering in 100 ms): ${requests} server request(s), ${failed} failed, ${elapsed} ms for all`,
  );

  const hit = summaries[1];
  const verdict = hit.median / base.median <= 1.2 ? 'met' : 'missed';
  console.log(
    `target cache-hit get ≤ 1.2× floor: ${verdict} on wall median (${(hit.median / base.median).toFixed(2)}×; cpu ${(hit.cpu / base.cpu).toFixed(2)}×); target ${concurrent} concurrent → 1 request: ${requests === 1 ? 'met' : 'missed'}`,
  );
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}

function runAsync(command, args, input, env) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('exit', (code) => resolve(code));
    child.stdin.end(input);
  });
}
