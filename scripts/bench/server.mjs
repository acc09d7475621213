// `npm run bench:server`: throughput and latency of the built service binary under a
// concurrent load generator on loopback, next to a trivial Node HTTP server that answers a
// constant (the floor: same runtime, same generator, no work), in the same run.
//   1. peak: closed loop, BENCH_CONCURRENCY requests in flight, BENCH_SECONDS long
//   2. half peak: open loop at half the measured peak rate; latency counted from the moment
//      each request was due, so a stalled server cannot hide its queueing
// Targets (issue #3): ≥ 50% of the floor's throughput; p99 under 10 ms at half the peak.
// Bounded: every phase stops at BENCH_SECONDS or BENCH_MAX_REQUESTS, whichever comes first.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { realmScenario } from './realm-scenario.mjs';
import { brokerScenario } from './broker-scenario.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
const SERVICE = join(root, 'dist', `dstack-registry-auth-linux-${arch}`);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const MAX_REQUESTS = Number(process.env.BENCH_MAX_REQUESTS ?? 200_000);
const WARMUP_REQUESTS = 500;
const DEMO_PASSWORD = 'bench-password';

// Scenarios: each one names the service settings it needs (serviceEnv, or setup() when it must
// first start something the service talks to) and, given a running service and an instance
// token, returns the request to repeat. One entry = one row of the report.
const SCENARIOS = [
  {
    name: 'POST /v1/credentials (static)',
    serviceEnv: () => ({
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'docker.bench.example',
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'bench-user',
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: DEMO_PASSWORD,
    }),
    prepare: async ({ instanceToken }) => ({
      method: 'POST',
      path: '/v1/credentials',
      headers: { authorization: `Bearer ${instanceToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ registry: 'https://index.docker.io/v1/' }),
    }),
  },
  // The token realm (issuer source): a pull ticket from /v1/credentials, then GET /v1/token as
  // dockerd asks it (scripts/bench/realm-scenario.mjs).
  realmScenario,
  // A brokered registry's repository token from the service's cache (scripts/bench/broker-scenario.mjs).
  brokerScenario,
];

// The floor: the same Node runtime answering a constant after reading the body.
const FLOOR_SOURCE = `
const http = require('node:http');
const body = JSON.stringify({ registry: 'https://index.docker.io/v1/', username: 'bench-user', secret: 'constant', expires_at: '2026-01-01T00:00:00.000Z', source: 'static' });
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); });
});
server.keepAliveTimeout = 65000;
server.listen(0, '127.0.0.1', () => process.stderr.write('floor listening on http://127.0.0.1:' + server.address().port + '\\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

function startProcess(command, args, env, pattern) {
  const child = spawn(command, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start:\n${err}`)), 15_000);
    child.stderr.on('data', (chunk) => {
      err += chunk;
      const match = pattern.exec(err);
      if (match) {
        clearTimeout(timer);
        resolve({
          url: match[1],
          stop: () =>
            new Promise((done) => {
              child.once('exit', done);
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}:\n${err}`)));
  });
}

async function startService(dataDir, env) {
  const full = { ...env, DSTACK_REGISTRY_AUTH_AUDIT_LOG: join(dataDir, 'audit.log') };
  const instanceToken = execFileSync(
    SERVICE,
    ['issue-token', '--instance', 'bench-1', '--project', 'main', '--data-dir', dataDir],
    { env: { PATH: process.env.PATH, ...full }, encoding: 'utf8' },
  ).trim();
  const service = await startProcess(
    SERVICE,
    ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir],
    full,
    /dstack-registry-auth listening on (\S+)/,
  );
  return { ...service, instanceToken };
}

// One request on the keep-alive agent; resolves when the whole answer has arrived.
function send(agent, baseUrl, spec) {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${spec.path}`, { method: spec.method, headers: spec.headers, agent }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? resolve() : reject(new Error(`${spec.method} ${spec.path} → HTTP ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.end(spec.body);
  });
}

// Keep-alive connections, shared by both phases against one server: the open loop starts on
// warm sockets instead of counting connection set-up as latency.
function newAgent() {
  return new Agent({ keepAlive: true, maxSockets: CONCURRENCY * 4 });
}

// Closed loop: CONCURRENCY workers, each sending its next request when the last one is done.
async function peak(baseUrl, spec, agent) {
  for (let i = 0; i < WARMUP_REQUESTS; i++) await send(agent, baseUrl, spec);
  const latencies = [];
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline && latencies.length < MAX_REQUESTS) {
        const t0 = performance.now();
        await send(agent, baseUrl, spec);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: latencies.length / seconds, ...percentiles(latencies), requests: latencies.length };
}

// Open loop at a fixed rate: requests are sent when due whatever the server does; latency
// is measured from the due time.
async function atRate(baseUrl, spec, rate, agent) {
  const total = Math.min(MAX_REQUESTS, Math.floor(rate * SECONDS));
  const latencies = [];
  const inFlight = [];
  const started = performance.now();
  let sent = 0;
  while (sent < total) {
    const now = performance.now();
    while (sent < total && started + (sent * 1000) / rate <= now) {
      const due = started + (sent * 1000) / rate;
      inFlight.push(send(agent, baseUrl, spec).then(() => latencies.push(performance.now() - due)));
      sent++;
    }
    // Sleep until the next request is due (timers fire within ~1 ms; the lag counts as latency)
    // rather than spinning, which would take a core from the server on a small machine.
    const wait = started + (sent * 1000) / rate - performance.now();
    await new Promise((resolve) =>
      wait > 0 ? setTimeout(resolve, Math.max(1, Math.floor(wait))) : setImmediate(resolve),
    );
  }
  await Promise.all(inFlight);
  return { rate, ...percentiles(latencies), requests: latencies.length };
}

function percentiles(latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}

const fmt = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

async function main() {
  // Before the bench adds its own load.
  const load = loadavg()[0];
  const work = await mkdtemp(join(tmpdir(), 'bench-server-'));
  const rows = [];
  try {
    const floorFile = join(work, 'floor.cjs');
    await writeFile(floorFile, FLOOR_SOURCE);
    const floorServer = await startProcess(process.execPath, [floorFile], {}, /floor listening on (\S+)/);
    const floorSpec = await SCENARIOS[0].prepare({ baseUrl: floorServer.url, instanceToken: 'unused' });
    const floorAgent = newAgent();
    let floor;
    try {
      floor = await peak(floorServer.url, floorSpec, floorAgent);
      const floorHalf = await atRate(floorServer.url, floorSpec, floor.perSecond / 2, floorAgent);
      rows.push({ name: 'floor: constant Node HTTP server', ...floor, half: floorHalf });
    } finally {
      floorAgent.destroy();
      await floorServer.stop();
    }
    for (const [index, scenario] of SCENARIOS.entries()) {
      const backend = scenario.setup ? await scenario.setup() : undefined;
      try {
        const service = await startService(join(work, `data-${index}`), backend ? backend.env : scenario.serviceEnv());
        try {
          const spec = await scenario.prepare({ baseUrl: service.url, instanceToken: service.instanceToken, backend });
          const agent = newAgent();
          const measured = await peak(service.url, spec, agent);
          const half = await atRate(service.url, spec, measured.perSecond / 2, agent);
          agent.destroy();
          rows.push({
            name: scenario.name,
            ...measured,
            ratio: measured.perSecond / floor.perSecond,
            half,
            ...(backend?.note ? { note: backend.note() } : {}),
          });
        } finally {
          await service.stop();
        }
      } finally {
        await backend?.stop();
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  console.log(
    `dstack-registry-auth bench: loopback, ${CONCURRENCY} in flight, ${SECONDS} s per phase, Node ${process.version}, ${availableParallelism()} CPUs, load before the run ${load.toFixed(1)}`,
  );
  if (load > availableParallelism() / 2)
    console.log(
      'warning: the machine is busy; latency tails (see the floor at half peak) measure the contention, not the service',
    );
  console.log(
    [
      'scenario'.padEnd(36),
      'req/s'.padStart(9),
      'p50 ms'.padStart(8),
      'p99 ms'.padStart(8),
      'vs floor'.padStart(9),
      '  at half peak: req/s  p50 ms  p99 ms',
    ].join(''),
  );
  for (const row of rows) {
    const half = row.half
      ? `  ${fmt(row.half.rate, 0).padStart(19)} ${fmt(row.half.p50Ms).padStart(7)} ${fmt(row.half.p99Ms).padStart(7)}`
      : '';
    console.log(
      [
        row.name.padEnd(36),
        fmt(row.perSecond, 0).padStart(9),
        fmt(row.p50Ms).padStart(8),
        fmt(row.p99Ms).padStart(8),
        (row.ratio === undefined ? '1.00×' : `${fmt(row.ratio)}×`).padStart(9),
        half,
        row.note ? `  (${row.note})` : '',
      ].join(''),
    );
  }
  const credentials = rows.find((row) => row.name === SCENARIOS[0].name);
  const verdict = (ok) => (ok ? 'met' : 'MISSED');
  console.log(
    `targets for ${SCENARIOS[0].name}: throughput ≥ 50% of the floor: ${verdict(credentials.ratio >= 0.5)} (${fmt(credentials.ratio * 100, 0)}%); p99 < 10 ms at half peak: ${verdict(credentials.half.p99Ms < 10)} (${fmt(credentials.half.p99Ms)} ms)`,
  );
  if (process.env.BENCH_JSON) await writeFile(process.env.BENCH_JSON, JSON.stringify(rows, null, 2));
}

main().catch((error) => {
  console.error(`bench:server: ${error.message}`);
  process.exitCode = 1;
});
