// The mirror bench's report: medians, the ratios against the two references, and each goal
// of issue 10 next to its number (PASS/MISS; n/a where the run was too small to measure it,
// e.g. CPU in 10 ms ticks of a 4 MiB blob).
import { table } from './lib-measure.mjs';
import { median } from './mirror-measure.mjs';

const MiB = 1024 * 1024;
const fmt = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const signed = (n, digits) => (Number.isFinite(n) ? `${n < 0 ? '-' : '+'}${Math.abs(n).toFixed(digits)}` : '—');
const verdict = (ok, measurable = true) => (!measurable ? 'n/a' : ok ? 'PASS' : 'MISS');
const sum = (values) => values.reduce((a, b) => a + b, 0);

export function report(results) {
  const { settings, blob, manifest, rss, coldStart, pull, load, atRest } = results;
  const lines = [];
  lines.push(
    `mirror bench: ${fmt(blob.bytes / MiB, 1)} MiB blob, ${settings.reps} interleaved repetition(s), Node ${process.version}, ${load.cpus} CPUs`,
  );
  lines.push(
    `machine load (1/5/15 min): before ${load.before.map((n) => fmt(n)).join(' ')}, after ${load.after.map((n) => fmt(n)).join(' ')}`,
  );
  if (load.before[0] > load.cpus / 2)
    lines.push('warning: the machine was busy; wall times carry that noise, CPU per byte much less');

  // Blob GETs.
  const names = { direct: 'registry (direct)', plain: 'plain Node proxy', endpoint: 'endpoint' };
  const b = {};
  for (const [key, samples] of Object.entries(blob.samples)) {
    const ms = median(samples.map((s) => s.ms));
    const cpuTotal = sum(samples.map((s) => s.cpu));
    b[key] = {
      ms,
      rate: blob.bytes / MiB / (ms / 1000),
      cpuMs: cpuTotal / samples.length,
      nsPerByte: (cpuTotal * 1e6) / (blob.bytes * samples.length),
    };
  }
  lines.push('', 'blob GET (median of the repetitions):');
  lines.push(
    table(
      ['through', 'wall ms', 'MiB/s', 'proxy CPU ms', 'CPU ns/byte'],
      Object.entries(b).map(([key, r]) => [
        names[key],
        fmt(r.ms, 0),
        fmt(r.rate, 0),
        fmt(r.cpuMs, 0),
        fmt(r.nsPerByte, 3),
      ]),
    ),
  );
  const cpuRatio = b.endpoint.cpuMs / b.plain.cpuMs;
  const cpuMeasurable = b.plain.cpuMs >= 50; // five ticks or more
  lines.push(
    `ratio CPU per byte, endpoint ÷ plain proxy: ${fmt(cpuRatio)}× (goal ≤ 1.1×) ${verdict(cpuRatio <= 1.1, cpuMeasurable && Number.isFinite(cpuRatio))}`,
  );
  lines.push(`ratio blob wall time, endpoint ÷ plain proxy: ${fmt(b.endpoint.ms / b.plain.ms)}×`);
  lines.push(
    `ratio blob rate ÷ direct: endpoint ${fmt(b.endpoint.rate / b.direct.rate)}×, plain proxy ${fmt(b.plain.rate / b.direct.rate)}×`,
  );

  // Warm manifest GETs.
  const m = Object.fromEntries(Object.entries(manifest.samples).map(([key, samples]) => [key, median(samples)]));
  const added = { plain: m.plain - m.direct, endpoint: m.endpoint - m.direct };
  const count = manifest.samples.endpoint.length;
  lines.push(
    '',
    `warm manifest GET on a kept-alive connection, ${count} per target, median: direct ${fmt(m.direct, 3)} ms, plain proxy ${fmt(m.plain, 3)} ms, endpoint ${fmt(m.endpoint, 3)} ms`,
  );
  lines.push(
    `manifest GET added latency at the median: endpoint ${signed(added.endpoint, 3)} ms, plain proxy ${signed(added.plain, 3)} ms (goal ≤ plain proxy +0.2 ms) ${verdict(added.endpoint <= added.plain + 0.2)}`,
  );

  // Memory with concurrent streams.
  const since = rss.endpoint.sinceStart ? ' (peak since start: the kernel refused to reset it)' : '';
  lines.push(
    '',
    `peak RSS with ${rss.streams} concurrent blob streams: endpoint ${fmt(rss.endpoint.peakMiB, 1)} MiB, plain proxy ${fmt(rss.plain.peakMiB, 1)} MiB${since} (goal < 100 MiB) ${verdict(rss.endpoint.peakMiB < 100)}`,
  );
  const parts = (m) => `${fmt(m.total, 1)} MiB (anonymous ${fmt(m.anon, 1)}, file-backed ${fmt(m.file, 1)})`;
  lines.push(
    `  largest parts sampled during the streams: endpoint anonymous ${fmt(rss.endpoint.sampledAnonMiB, 1)} MiB + file-backed ${fmt(rss.endpoint.sampledFileMiB, 1)} MiB; plain proxy ${fmt(rss.plain.sampledAnonMiB, 1)} + ${fmt(rss.plain.sampledFileMiB, 1)} MiB`,
  );
  lines.push(`  at rest after start-up: endpoint ${parts(atRest.endpoint)}, plain proxy ${parts(atRest.plain)}`);
  lines.push(
    `  ${rss.streams} streams took ${fmt(rss.endpoint.ms, 0)} ms through the endpoint, ${fmt(rss.plain.ms, 0)} ms through the plain proxy`,
  );

  // Cold start.
  lines.push(
    '',
    `cold start by socket activation, time to first byte (median of ${coldStart.healthz.length}): /healthz ${fmt(median(coldStart.healthz), 1)} ms, manifest ${fmt(median(coldStart.manifest), 1)} ms (empty SEA binary start to exit: ${fmt(median(coldStart.emptySea), 1)} ms)`,
  );

  // dockerd pulls.
  const p = Object.fromEntries(Object.entries(pull.samples).map(([key, samples]) => [key, median(samples)]));
  lines.push(
    '',
    `dockerd Engine API pull of one ${fmt(blob.bytes / MiB, 0)} MiB layer, fresh engine each time (median of ${pull.samples.endpoint.length}): registry as mirror + X-Registry-Auth ${fmt(p.registry / 1000)} s, plain proxy ${fmt(p.plain / 1000)} s, endpoint ${fmt(p.endpoint / 1000)} s`,
  );
  const pullRatio = p.endpoint / p.registry;
  lines.push(
    `ratio dockerd pull, endpoint ÷ registry as mirror with X-Registry-Auth: ${fmt(pullRatio)}× (goal ≤ 1.05×) ${verdict(pullRatio <= 1.05)}; plain proxy ${fmt(p.plain / p.registry)}×`,
  );
  return lines.join('\n');
}
