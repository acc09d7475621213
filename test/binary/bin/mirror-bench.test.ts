import { REPO_ROOT } from '../../helpers/repo-root.ts';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { missingTools } from '../../helpers/ensure-packages.ts';

const root = REPO_ROOT;
// The bench starts private dockerds and a registry: root and the e2e packages. Under CI it
// always runs (and fails with the bench's own message when something is missing).
const runnable = process.getuid?.() === 0 && missingTools().length === 0;

// A quick run of `npm run bench:mirror`'s script (a 4 MiB blob, one repetition), so the
// benchmark keeps working; the numbers are not judged here (they depend on the machine),
// only that every measurement was made and every ratio and goal line printed.
describe('scripts/bench/mirror.mjs', () => {
  it.skipIf(!runnable && process.env.CI !== 'true')(
    'measures the endpoint against the plain proxy and the registry and prints every ratio',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'mirror-bench-smoke-'));
      try {
        const json = join(dir, 'results.json');
        const result = await execa(process.execPath, [join(root, 'scripts', 'bench', 'mirror.mjs')], {
          reject: false,
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', BENCH_QUICK: '1', BENCH_JSON: json },
          extendEnv: false,
        });
        const out = String(result.stdout);
        expect(result.exitCode, `${out}\n${String(result.stderr)}`).toBe(0);
        const goal = '(PASS|MISS|n/a)';
        for (const line of [
          /machine load \(1\/5\/15 min\): before [\d.]+ [\d.]+ [\d.]+, after/,
          new RegExp(`ratio CPU per byte, endpoint ÷ plain proxy: .*× \\(goal ≤ 1\\.1×\\) ${goal}`),
          /ratio blob wall time, endpoint ÷ plain proxy: [\d.]+×/,
          /ratio blob rate ÷ direct: endpoint [\d.]+×, plain proxy [\d.]+×/,
          new RegExp(
            `manifest GET added latency at the median: endpoint [+-][\\d.]+ ms, plain proxy [+-][\\d.]+ ms \\(goal ≤ plain proxy \\+0\\.2 ms\\) ${goal}`,
          ),
          new RegExp(
            `peak RSS with 8 concurrent blob streams: endpoint [\\d.]+ MiB, plain proxy [\\d.]+ MiB.* \\(goal < 100 MiB\\) ${goal}`,
          ),
          /cold start by socket activation, time to first byte .*: \/healthz [\d.]+ ms, manifest [\d.]+ ms/,
          new RegExp(
            `ratio dockerd pull, endpoint ÷ registry as mirror with X-Registry-Auth: [\\d.]+× \\(goal ≤ 1\\.05×\\) ${goal}; plain proxy [\\d.]+×`,
          ),
        ]) {
          expect(out, String(line)).toMatch(line);
        }
        const results = JSON.parse(await readFile(json, 'utf8'));
        for (const key of ['direct', 'plain', 'endpoint']) {
          expect(results.blob.samples[key][0].ms, key).toBeGreaterThan(0);
          expect(results.manifest.samples[key].length, key).toBeGreaterThan(0);
        }
        expect(results.rss.endpoint.peakMiB).toBeGreaterThan(0);
        expect(results.coldStart.healthz[0]).toBeGreaterThan(0);
        expect(results.pull.samples.endpoint[0]).toBeGreaterThan(0);
        expect(results.pull.samples.registry[0]).toBeGreaterThan(0);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    180_000,
  );
});
