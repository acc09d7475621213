// The client side of the mirror bench: blob GETs counted to the byte, warm manifest GETs on
// one kept-alive connection, N blob streams at once, and the first byte of a cold start.
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { cpuMs } from './mirror-targets.mjs';

export const MANIFEST_ACCEPT = 'application/vnd.docker.distribution.manifest.v2+json';

function get(url, { headers = {}, agent, hash } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent }, (res) => {
      let bytes = 0;
      const digest = hash ? createHash('sha256') : undefined;
      res.on('data', (chunk) => {
        bytes += chunk.length;
        digest?.update(chunk);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode, bytes, digest: digest ? `sha256:${digest.digest('hex')}` : undefined }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

// One GET of the blob through `target` ({name, url, headers, pid?}); wall ms, and the CPU the
// target's process spent on it. `verify` hashes what arrived (the warm-up run does).
export async function blobGet(target, blobPath, expected, { verify = false } = {}) {
  const before = target.pid ? cpuMs(target.pid) : NaN;
  const t0 = performance.now();
  const res = await get(`${target.url}${blobPath}`, { headers: target.headers, agent: false, hash: verify });
  const ms = performance.now() - t0;
  const cpu = target.pid ? cpuMs(target.pid) - before : NaN;
  if (res.status !== 200 || res.bytes !== expected.size)
    throw new Error(`${target.name}: GET ${blobPath} → HTTP ${res.status}, ${res.bytes} of ${expected.size} bytes`);
  if (verify && res.digest !== expected.digest)
    throw new Error(`${target.name}: the blob arrived with digest ${res.digest}, not ${expected.digest}`);
  return { ms, cpu };
}

// `count` sequential GETs of the manifest on one kept-alive connection; latency of each, ms.
export async function manifestLatencies(target, manifestPath, count, agent) {
  const latencies = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const res = await get(`${target.url}${manifestPath}`, {
      headers: { ...target.headers, accept: MANIFEST_ACCEPT },
      agent,
    });
    latencies.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`${target.name}: GET ${manifestPath} → HTTP ${res.status}`);
  }
  return latencies;
}

export function keptAlive() {
  return new Agent({ keepAlive: true, maxSockets: 1 });
}

// `streams` blob GETs at once; resolves when all have arrived in full.
export async function concurrentBlobGets(target, blobPath, expected, streams) {
  const t0 = performance.now();
  await Promise.all(Array.from({ length: streams }, () => blobGet(target, blobPath, expected)));
  return performance.now() - t0;
}

// Sends a raw GET on a new connection to 127.0.0.1:port; ms from `since` to the first byte
// of the answer and its status line.
export function firstByte(port, path, since) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(30_000, () => socket.destroy(new Error(`no answer on port ${port} within 30 s`)));
    socket.once('error', reject);
    socket.once('data', (chunk) => {
      const ms = performance.now() - since;
      socket.destroy();
      resolve({ ms, statusLine: chunk.toString('latin1').split('\r\n')[0] });
    });
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: ${MANIFEST_ACCEPT}\r\nConnection: close\r\n\r\n`,
    );
  });
}

export function median(values) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
