import { REPO_ROOT } from '../../helpers/repo-root.ts';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { assertServiceBinaryBuilt } from '../../helpers/service-process.ts';

const root = REPO_ROOT;

// A short run of `npm run bench:server`'s script, so the benchmark keeps working; the numbers
// themselves are not judged here (they depend on the machine).
describe('scripts/bench/server.mjs', () => {
  it('measures the floor and every scenario against the built service and reports ratios', async () => {
    assertServiceBinaryBuilt();
    const dir = await mkdtemp(join(tmpdir(), 'bench-smoke-'));
    try {
      const json = join(dir, 'rows.json');
      const result = await execa(process.execPath, [join(root, 'scripts', 'bench', 'server.mjs')], {
        reject: false,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          BENCH_SECONDS: '0.3',
          BENCH_CONCURRENCY: '4',
          BENCH_JSON: json,
        },
        extendEnv: false,
      });
      expect(result.exitCode, `${String(result.stdout)}\n${String(result.stderr)}`).toBe(0);
      expect(String(result.stdout)).toMatch(
        /targets for POST \/v1\/credentials \(static\): throughput ≥ 50% of the floor: (met|MISSED)/,
      );
      const rows = JSON.parse(await readFile(json, 'utf8')) as {
        name: string;
        perSecond: number;
        ratio?: number;
        half?: { p99Ms: number };
      }[];
      expect(rows.map((row) => row.name)).toEqual([
        'floor: constant Node HTTP server',
        'POST /v1/credentials (static)',
        'GET /v1/token (realm, ticket)',
        'POST /v1/credentials (broker, warm)',
      ]);
      for (const row of rows) {
        expect(row.perSecond).toBeGreaterThan(0);
        expect(row.half?.p99Ms).toBeGreaterThan(0);
      }
      expect(rows[1]!.ratio).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
