import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HelperHost } from './helper-env.ts';
import { isRunning, sleep, stopProcess, trackProcess } from '../../helpers/reaper.ts';

// The host-local mirror endpoint (`docker-credential-dstack mirror`) as the runner host runs
// it: the helper's own binary and settings (server, instance token, cache dir come from the
// helper host's environment), in the foreground on a loopback port (port 0: it picks one and
// logs "listening on http://…"), its stderr (one line per pull) in DIR/NAME.log. Ready when
// /healthz answers; the test process is root, so the endpoint's uid check lets it in.
export interface MirrorEndpoint {
  url: string; // http://127.0.0.1:PORT, what the engines are pointed at
  host: string; // 127.0.0.1:PORT
  port: number;
  pid: number;
  logPath: string;
  args: string[];
  // What it logged since this start.
  log(): Promise<string>;
  // That log once a line matches `pattern`: a pull's line is written when its response closes,
  // which may be just after the client has read the answer (fails after 5 s, naming the pattern).
  logWith(pattern: RegExp): Promise<string>;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export interface MirrorEndpointOptions {
  dir: string;
  helper: HelperHost;
  // Everything after `mirror --listen …`: --upstream URL, --library keep|strip|both, --allow-uid …
  args?: string[];
  name?: string;
  env?: Record<string, string>;
  // Default: one the endpoint picks. A restart passes the old port, so the engines' files stay right.
  port?: number;
  // Another loopback address to listen on (`127.88.0.1:443`), for a run with --tls-cert/--tls-key.
  listen?: string;
}

const START_TIMEOUT_MS = 15_000;
const LISTENING = /listening on (https?:\/\/127\.\d+\.\d+\.\d+:\d+)/;

export async function startMirrorEndpoint(options: MirrorEndpointOptions): Promise<MirrorEndpoint> {
  await mkdir(options.dir, { recursive: true });
  const name = options.name ?? 'mirror';
  const logPath = join(options.dir, `${name}.log`);
  const before = (await readFile(logPath, 'utf8').catch(() => '')).length;
  const args = ['mirror', '--listen', options.listen ?? `127.0.0.1:${options.port ?? 0}`, ...(options.args ?? [])];
  const logFd = openSync(logPath, 'a');
  const child = spawn(join(options.helper.binDir, 'docker-credential-dstack'), args, {
    stdio: ['ignore', logFd, logFd],
    env: { ...options.helper.env, ...options.env },
  });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error('startMirrorEndpoint: could not run docker-credential-dstack mirror');
  trackProcess(pid, name);
  const log = async () => (await readFile(logPath, 'utf8')).slice(before);
  const deadline = Date.now() + START_TIMEOUT_MS;
  let url: string | undefined;
  for (;;) {
    if (!isRunning(pid) || child.exitCode !== null) {
      await stopProcess(pid, 1_000);
      throw new Error(
        `startMirrorEndpoint: docker-credential-dstack ${args.join(' ')} exited during start; log:\n${await log()}`,
      );
    }
    url ??= LISTENING.exec(await log())?.[1];
    const status = url ? await healthStatus(url) : 0;
    if (url && status === 200) break;
    if (Date.now() > deadline) {
      await stopProcess(pid, 2_000);
      throw new Error(
        `startMirrorEndpoint: ${url ?? 'the endpoint'} did not answer /healthz with 200 within ${START_TIMEOUT_MS} ms (last ${status || 'no answer'}); log:\n${await log()}`,
      );
    }
    await sleep(50);
  }
  const { host, port } = new URL(url);
  // Once only: a restart stops it and its scaffold again at the end, when the PID may be another's.
  let stopped: Promise<void> | undefined;
  return {
    url,
    host,
    port: Number(port),
    pid,
    logPath,
    args,
    log,
    logWith: async (pattern) => {
      const until = Date.now() + 5_000;
      for (;;) {
        const text = await log();
        if (pattern.test(text)) return text;
        if (Date.now() > until)
          throw new Error(`the endpoint logged no line matching ${String(pattern)}; log:\n${text}`);
        await sleep(25);
      }
    },
    metrics: async () => {
      const res = await fetch(`${url}/metrics`);
      if (res.status !== 200) throw new Error(`GET ${url}/metrics → HTTP ${res.status}`);
      return res.text();
    },
    stop: () => (stopped ??= stopProcess(pid, 5_000)),
  };
}

// /healthz's status; over TLS without verifying the certificate (a liveness probe on loopback).
function healthStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(
      `${url}/healthz`,
      { rejectUnauthorized: false, timeout: 2_000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

// The sum of every series of a Prometheus counter in /metrics text (optionally only the
// series whose labels contain `labels`, e.g. 'outcome="granted"').
export function metricTotal(metrics: string, name: string, labels = ''): number {
  const series = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`);
  let total = 0;
  for (const line of metrics.split('\n')) {
    const match = series.exec(line);
    if (match && (match[1] ?? '').includes(labels)) total += Number(match[2]);
  }
  return total;
}
