// Measuring short-lived processes: wall time per run (spawn → exit; one child at a time, so
// a loopback test server can run in this process) and CPU time (user+sys) from
// /proc/self/stat's reaped-children counters, which stay meaningful on a busy machine where
// wall time wobbles.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

function childCpuTicks() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[13]) + Number(fields[14]); // cutime + cstime
  } catch {
    return NaN;
  }
}

// Runs `command args` once; returns wall ms, and the exit status and output for checking.
export function timeOnce(command, args, { input = '', env = {}, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) =>
      resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, result: { status, stdout, stderr } }),
    );
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

// A series of runs of one case, recorded as they happen; rounds interleave the cases.
export function createSeries(name) {
  return { name, wall: [], cpuTicks: 0 };
}

export async function record(series, fn) {
  const before = childCpuTicks();
  const { ms, result } = await fn();
  series.cpuTicks += childCpuTicks() - before;
  series.wall.push(ms);
  return result;
}

export function summarize(series) {
  const sorted = [...series.wall].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return {
    name: series.name,
    runs: sorted.length,
    median: at(0.5),
    p95: at(0.95),
    cpu: (series.cpuTicks * TICK_MS) / sorted.length,
  };
}

export function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
