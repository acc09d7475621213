// npm run bench:mirror: the host-local mirror endpoint (`docker-credential-dstack mirror`)
// against two references measured in the same run: the plainest Node reverse proxy (the floor
// for this runtime) and the registry itself (the physical limit). Runs are interleaved
// (A/B/C, B/C/A, …), several repetitions, medians. Needs root (private dockerd) and the
// packages of the e2e stage; builds nothing (the npm script builds the binaries first).
// Environment: BENCH_QUICK=1 (a 4 MiB blob, one repetition: for the smoke test),
// BENCH_BLOB_MIB (256), BENCH_REPS (3), BENCH_JSON (write the numbers there).
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { ensureE2ePrerequisites, HELPER_BINARY } from '../../test/helpers/ensure-packages.ts';
import { startRegistry } from '../../test/helpers/registry-process.ts';
import { writeHtpasswd } from '../../test/helpers/htpasswd.ts';
import { startService } from '../../test/helpers/built-service.ts';
import { createHelperHost } from '../../test/e2e/harness/helper-env.ts';
import { startMirrorEndpoint } from '../../test/e2e/harness/mirror-endpoint.ts';
import { seedLargeImage } from './mirror-image.mjs';
import { residentMiB, startPlainProxy } from './mirror-targets.mjs';
import { blobPhase, coldStartPhase, manifestPhase, pullPhase, rssPhase } from './mirror-phases.mjs';
import { report } from './mirror-report.mjs';

const QUICK = process.env.BENCH_QUICK === '1';
const settings = {
  quick: QUICK,
  blobBytes: Number(process.env.BENCH_BLOB_MIB ?? (QUICK ? 4 : 256)) * 1024 * 1024,
  reps: Number(process.env.BENCH_REPS ?? (QUICK ? 1 : 3)),
  manifestRounds: QUICK ? 2 : 10,
  manifestPerRound: QUICK ? 10 : 40,
  streams: 8,
  coldStarts: QUICK ? 1 : 5,
};
const IMAGE = { repository: 'library/bench', name: 'bench', tag: 'layer' };

async function main() {
  ensureE2ePrerequisites();
  const loadBefore = loadavg();
  const work = await mkdtemp('/tmp/bm-'); // short: dockerd's unix sockets live under it
  const stops = [];
  const track = (thing) => {
    stops.push(thing);
    return thing;
  };
  try {
    // The registry (htpasswd, bcrypt cost 4) with the image, the service holding its password
    // (static source), the helper's settings with an instance token, the endpoint.
    const account = await writeHtpasswd(join(work, 'htpasswd'), 'bench-user', { cost: 4 });
    const registry = track(
      await startRegistry({
        dir: join(work, 'reg'),
        auth: { htpasswd: { realm: 'bench', path: join(work, 'htpasswd') } },
      }),
    );
    const layerPath = join(work, 'layer.tar.gz');
    const image = await seedLargeImage({
      registryUrl: registry.url,
      ...IMAGE,
      bytes: settings.blobBytes,
      layerPath,
      authorization: account.basic,
    });
    await rm(layerPath);
    const service = track(
      await startService({
        dir: join(work, 'svc'),
        env: {
          DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: registry.host,
          DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: account.username,
          DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: account.password,
        },
      }),
    );
    // As a host runs it by default: no log file, no debug lines.
    const host = await createHelperHost({ dir: join(work, 'host'), server: service.url, debugLog: false });
    await host.setToken(await service.issueToken({ instance: 'bench-1', project: 'main' }));
    const endpointArgs = ['--upstream', registry.url];
    const endpoint = track(await startMirrorEndpoint({ dir: join(work, 'mirror'), helper: host, args: endpointArgs }));
    const plain = track(await startPlainProxy(work, registry.url, account.basic));

    const targets = {
      direct: { name: 'registry (direct)', url: registry.url, headers: { authorization: account.basic } },
      plain: { name: 'plain Node proxy', url: plain.url, headers: {}, pid: plain.pid },
      endpoint: { name: 'endpoint', url: endpoint.url, headers: {}, pid: endpoint.pid },
    };
    const blob = {
      path: `/v2/${IMAGE.repository}/blobs/${image.layerDigest}`,
      size: image.layerSize,
      digest: image.layerDigest,
    };
    const manifestPath = `/v2/${IMAGE.repository}/manifests/${IMAGE.tag}`;
    const results = {
      settings,
      image: { layerBytes: image.layerSize },
      atRest: { endpoint: residentMiB(endpoint.pid), plain: residentMiB(plain.pid) },
    };
    results.blob = await blobPhase(targets, blob, settings);
    results.manifest = await manifestPhase(targets, manifestPath, settings);
    results.rss = await rssPhase(targets, blob, settings);
    results.coldStart = await coldStartPhase({
      binary: HELPER_BINARY,
      args: ['mirror', ...endpointArgs, '--idle-exit', '60s'],
      env: host.env,
      manifestPath,
      settings,
    });
    results.pull = await pullPhase({
      workDir: work,
      image: { name: IMAGE.name, tag: IMAGE.tag, configDigest: image.configDigest },
      mirrors: {
        registry: { mirror: registry.url, registryAuth: { username: account.username, password: account.password } },
        plain: { mirror: plain.url },
        endpoint: { mirror: endpoint.url },
      },
      settings,
    });
    results.load = { cpus: availableParallelism(), before: loadBefore, after: loadavg() };
    console.log(report(results));
    if (process.env.BENCH_JSON) await writeFile(process.env.BENCH_JSON, JSON.stringify(results, null, 2));
  } finally {
    for (const thing of stops.reverse()) await thing.stop().catch(() => undefined);
    if (existsSync(work)) await rm(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`bench:mirror: ${error.message}`);
  process.exitCode = 1;
});
