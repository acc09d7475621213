// The phases of the mirror bench. Each interleaves its targets (the order rotates every
// repetition, so drift in the machine's load is spread over all of them) and returns raw
// samples; mirror-report.mjs turns them into medians and ratios.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { blobGet, concurrentBlobGets, firstByte, keptAlive, manifestLatencies } from './mirror-measure.mjs';
import { peakRssMiB, resetPeakRss, residentMiB, spawnSocketActivated } from './mirror-targets.mjs';
import { timedEnginePull } from './mirror-dockerd-pull.mjs';

const root = join(import.meta.dirname, '..', '..');

function rotated(list, by) {
  return list.map((_, i) => list[(i + by) % list.length]);
}

// 256 MiB blob GETs: wall time and the proxy process's CPU, per target.
export async function blobPhase(targets, blob, settings) {
  const keys = Object.keys(targets);
  for (const key of keys) await blobGet(targets[key], blob.path, blob, { verify: true });
  const samples = Object.fromEntries(keys.map((key) => [key, []]));
  for (let rep = 0; rep < settings.reps; rep++) {
    for (const key of rotated(keys, rep)) samples[key].push(await blobGet(targets[key], blob.path, blob));
  }
  return { bytes: blob.size, samples };
}

// Warm manifest GETs on one kept-alive connection per target.
export async function manifestPhase(targets, manifestPath, settings) {
  const keys = Object.keys(targets);
  const agents = Object.fromEntries(keys.map((key) => [key, keptAlive()]));
  for (const key of keys) await manifestLatencies(targets[key], manifestPath, 20, agents[key]);
  const samples = Object.fromEntries(keys.map((key) => [key, []]));
  for (let round = 0; round < settings.manifestRounds; round++) {
    for (const key of rotated(keys, round))
      samples[key].push(
        ...(await manifestLatencies(targets[key], manifestPath, settings.manifestPerRound, agents[key])),
      );
  }
  for (const agent of Object.values(agents)) agent.destroy();
  return { samples };
}

// Peak RSS (VmHWM, reset first) while `streams` blob GETs run at once through a proxy, and
// the largest anonymous and file-backed parts seen by sampling every 20 ms.
export async function rssPhase(targets, blob, settings) {
  const result = {};
  for (const key of ['plain', 'endpoint']) {
    const target = targets[key];
    const reset = resetPeakRss(target.pid);
    const sampled = { anon: 0, file: 0 };
    const sampler = setInterval(() => {
      const now = residentMiB(target.pid);
      sampled.anon = Math.max(sampled.anon, now.anon);
      sampled.file = Math.max(sampled.file, now.file);
    }, 20);
    const ms = await concurrentBlobGets(target, blob.path, blob, settings.streams).finally(() =>
      clearInterval(sampler),
    );
    result[key] = {
      peakMiB: peakRssMiB(target.pid),
      sinceStart: !reset,
      ms,
      sampledAnonMiB: sampled.anon,
      sampledFileMiB: sampled.file,
    };
  }
  return { streams: settings.streams, ...result };
}

// Cold starts under socket activation: the time from spawning the endpoint on an inherited
// listening socket to the first byte of the answer, for /healthz (start-up alone) and for a
// manifest (start-up, the credential from the file cache, the upstream round trip). The
// empty SEA binary's start-up (dist/node-floor) is the floor for the runtime.
export async function coldStartPhase({ binary, args, env, manifestPath, settings }) {
  const samples = { healthz: [], manifest: [], emptySea: [] };
  for (let i = 0; i < settings.coldStarts; i++) {
    for (const [kind, path] of [
      ['healthz', '/healthz'],
      ['manifest', manifestPath],
    ]) {
      const started = await spawnSocketActivated(binary, args, env);
      try {
        const answer = await firstByte(started.port, path, started.started);
        if (!/ 200 /.test(answer.statusLine))
          throw new Error(
            `socket-activated endpoint answered ${path} with "${answer.statusLine}"; stderr:\n${started.stderr()}`,
          );
        samples[kind].push(answer.ms);
      } finally {
        await started.stop();
      }
    }
    samples.emptySea.push(
      await timeToExit(join(root, 'dist', `node-floor-linux-${process.arch === 'arm64' ? 'arm64' : 'x64'}`)),
    );
  }
  return samples;
}

function timeToExit(command) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, [], { stdio: 'ignore' });
    child.once('error', () => resolve(NaN));
    child.once('exit', () => resolve(performance.now() - t0));
  });
}

// dockerd pulls of the image through each mirror, a fresh engine each time.
export async function pullPhase({ workDir, image, mirrors, settings }) {
  const keys = Object.keys(mirrors);
  const samples = Object.fromEntries(keys.map((key) => [key, []]));
  for (let rep = 0; rep < settings.reps; rep++) {
    for (const key of rotated(keys, rep)) {
      samples[key].push(
        await timedEnginePull({
          workDir,
          ...mirrors[key],
          image: image.name,
          tag: image.tag,
          expectConfigDigest: image.configDigest,
        }),
      );
    }
  }
  return { samples };
}
