// What the mirror bench measures, as processes it can watch through /proc: the plainest Node
// reverse proxy (the floor for this runtime), the endpoint in the foreground, and the endpoint
// started cold by socket activation (LISTEN_FDS, as systemd does it).
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

const TICK_MS = 10; // USER_HZ

// A dozen lines of http.request + pipe; it holds the registry's Basic credential itself.
const PLAIN_PROXY = `
const http = require('node:http');
const target = new URL(process.env.TARGET);
const agent = new http.Agent({ keepAlive: true });
http.createServer((req, res) => {
  const headers = { ...req.headers, host: target.host, authorization: process.env.AUTH };
  const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
}).listen(0, '127.0.0.1', function () { process.stderr.write('plain proxy listening on http://127.0.0.1:' + this.address().port + '\\n'); });
`;

export async function startPlainProxy(dir, registryUrl, authorization) {
  const file = join(dir, 'plain-proxy.cjs');
  await writeFile(file, PLAIN_PROXY);
  const child = spawn(process.execPath, [file], {
    env: { TARGET: registryUrl, AUTH: authorization },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (chunk) => {
      err += chunk;
      const match = /listening on (\S+)/.exec(err);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`plain proxy exited with ${code}: ${err}`)));
  });
  return { url, pid: child.pid, stop: () => stopChild(child) };
}

// user+sys CPU of a process so far, in ms (all its threads; 10 ms resolution).
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

// Peak resident set (VmHWM) in MiB.
export function peakRssMiB(pid) {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

// Resident memory now, in MiB: the total, anonymous (heap, buffers) and file-backed (the
// binary's own pages: a SEA binary maps its 100+ MB of embedded Node and blob).
export function residentMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kB = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
  return { total: kB('VmRSS'), anon: kB('RssAnon'), file: kB('RssFile') };
}

// Starts a new VmHWM period (proc(5): clear_refs 5); false where the kernel refuses.
export function resetPeakRss(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

// The endpoint started the way systemd starts a socket-activated service: the listening
// socket already exists (connections wait in its backlog), the process gets it as fd 3 with
// LISTEN_FDS=1 and LISTEN_PID=its own PID (sh sets it, then execs, keeping the PID). Resolves
// once it is spawned; `request` is sent right after, so the time to its first byte includes
// the whole cold start.
export async function spawnSocketActivated(command, args, env) {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const fd = server._handle.fd;
  const started = performance.now();
  const child = spawn(
    '/bin/sh',
    ['-c', 'LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=mirror exec "$0" "$@"', command, ...args],
    {
      env,
      stdio: ['ignore', 'ignore', 'pipe', fd],
    },
  );
  // Our copy of the socket goes before the event loop could accept on it: only the child accepts.
  server.close();
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return { port, started, pid: child.pid, stderr: () => stderr, stop: () => stopChild(child) };
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}
