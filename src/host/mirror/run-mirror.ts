import type { CommandContext } from '../../common/command-context.ts';
import { write } from '../../common/command-context.ts';
import { CodedError } from '../../common/errors.ts';
import { createServiceClient, type ServiceClient } from '../client/service-client.ts';
import { isLoopbackHost } from '../../registry/loopback.ts';
import { openHelperCache } from '../credentials/open-helper-cache.ts';
import { loadHelperSettings } from '../settings/settings.ts';
import { parseDuration } from '../../common/duration.ts';
import { DEFAULT_ACTIVATED_IDLE_EXIT } from './server/default-listen.ts';
import { parseListenAddress } from './server/listen-address.ts';
import { createMirrorLog } from './server/mirror-log.ts';
import { createMemoryPacer } from './forwarding/memory-pacer.ts';
import { fdLineWriter } from './server/fd-line-writer.ts';
import { createMirrorMetrics, type MirrorMetrics } from './server/mirror-metrics.ts';
import { MIRROR_USAGE, parseMirrorOptions } from './mirror-options.ts';
import { createMirrorServer } from './server/mirror-server.ts';
import { createPeerPolicy } from './server/peer-policy.ts';
import { createPeerUidLookup, openProcTables } from './server/peer-uid.ts';
import { activatedSocketFd } from './server/socket-activation.ts';
import { listenOn, stopServing } from './server/serve-lifecycle.ts';
import { readTlsFiles } from './server/tls-files.ts';
import { createMetadataOnlyScope } from './forwarding/metadata-only.ts';
import { createEndpointPull } from './endpoint-pull.ts';
import { fixedUpstreams, serviceUpstreams } from './upstream/upstream-source.ts';
import { parseUpstream } from './upstream/upstream.ts';

// Time an upstream may take to start answering a pull (a pull-through cache may first fetch
// the manifest or blob from its own upstream).
const UPSTREAM_RESPONSE_TIMEOUT_MS = 60_000;

// A young-generation collection after this many body bytes (memory-pacer.ts): measured here
// with 8 concurrent 256 MiB streams, the anonymous peak fell from 125–185 MiB to about 50 MiB
// (4 MiB: 45 MiB), CPU per byte unchanged within the noise.
const GC_EVERY_BYTES = 8 * 1024 * 1024;

// `docker-credential-dstack mirror`: see docs/mirror.md. Runs until SIGTERM/SIGINT, or, with
// an idle exit, until no connection has been open for that long; then exits 0.
export async function runMirror(ctx: CommandContext): Promise<number> {
  const options = parseMirrorOptions(ctx.argv);
  if (options.help) {
    await write(ctx.stdout, MIRROR_USAGE);
    return 0;
  }
  if (options.upstreamRealms.length > 0 && options.upstreams.length === 0)
    throw new CodedError(
      'usage',
      '--upstream-realm applies to the --upstream URLs, and none is given; for upstreams from the host config the dstack server lists the realms (docs/mirror.md)',
    );
  const upstreamList = options.upstreams.map((url) =>
    parseUpstream(url, { library: options.library, realms: options.upstreamRealms }),
  );
  const activatedFd = activatedSocketFd(ctx.env, process.pid);
  const listen = activatedFd === undefined ? parseListenAddress(options.listen) : undefined;
  if (listen && !listen.loopback && !options.allowNonLoopback) {
    throw new CodedError(
      'usage',
      `--listen ${options.listen}: not a loopback address; the endpoint serves the fleet's pull rights to whoever reaches it. Add --allow-non-loopback if that is really meant`,
    );
  }
  const settings = await loadHelperSettings(ctx.env);
  const log = createMirrorLog({
    stderr: ctx.stdio === 'process' ? fdLineWriter(2) : ctx.stderr,
    logFile: settings.logFile,
    debug: settings.debug,
    pid: process.pid,
  });
  if (listen && !listen.loopback)
    log.warn(
      `listening on ${options.listen}, which is not loopback (--allow-non-loopback): every host that reaches it pulls with this fleet's credentials, subject only to the uid check of local peers`,
    );
  if (activatedFd !== undefined && options.listenGiven)
    log.warn('--listen is ignored: systemd passed the listening socket');
  const idleExitMs =
    options.idleExitMs ??
    (activatedFd !== undefined ? parseDuration(DEFAULT_ACTIVATED_IDLE_EXIT, 'idle exit') * 1000 : 0);

  const metrics = createMirrorMetrics();
  const cache = openHelperCache(settings, log);
  let client: ServiceClient | undefined;
  const serviceClient = async (): Promise<ServiceClient> =>
    (client ??= countingClient(
      createServiceClient(settings, { warn: (msg) => log.warn(msg), debug: (msg) => log.debug(msg) }),
      metrics,
    ));
  const { pull, close: closePull } = createEndpointPull({
    settings,
    log,
    cache,
    client: serviceClient,
    upstreams:
      upstreamList.length > 0
        ? fixedUpstreams(upstreamList)
        : serviceUpstreams({ client: serviceClient, cacheDir: settings.cacheDir, log, server: settings.server }),
    responseTimeoutMs: UPSTREAM_RESPONSE_TIMEOUT_MS,
    onTokenFetch: () => metrics.increment('dstack_mirror_registry_token_requests_total'),
    extra: {
      piped: createMemoryPacer(GC_EVERY_BYTES),
      ...(options.metadataOnly ? { readScope: createMetadataOnlyScope() } : {}),
    },
  });
  const policy = createPeerPolicy({
    uids: options.allowUids,
    gids: options.allowGids,
    unlisted: options.allowNonLoopback,
  });
  const tls =
    options.tlsCert !== undefined && options.tlsKey !== undefined
      ? await readTlsFiles(options.tlsCert, options.tlsKey)
      : undefined;
  const procTables = openProcTables();
  const mirror = createMirrorServer({
    pull,
    metrics,
    log,
    policy,
    peerUid: createPeerUidLookup(procTables),
    maxConnectionsPerUid: options.maxConnectionsPerUid,
    ...(tls ? { tls } : {}),
  });

  const address = await listenOn(
    mirror.server,
    activatedFd !== undefined ? { fd: activatedFd } : { host: listen!.host, port: listen!.port },
    tls ? 'https' : 'http',
  );
  if (activatedFd !== undefined && !isLoopbackUrl(address) && !options.allowNonLoopback) {
    await stopServing(mirror.server, 0);
    procTables.close();
    throw new CodedError(
      'usage',
      `systemd passed a socket on ${address}, which is not loopback; the endpoint serves the fleet's pull rights to whoever reaches it. Bind the socket unit to 127.0.0.1, or add --allow-non-loopback if that is really meant`,
    );
  }
  log.info(
    `listening on ${address}${activatedFd !== undefined ? ' (systemd socket)' : ''}; upstreams: ${upstreamList.length > 0 ? upstreamList.map((u) => `${u.url} (${u.registry}, library ${u.library})`).join(', ') : `from ${settings.server} host config`}; serving ${policy.describe()}${options.metadataOnly ? '; manifests, tag lists and config blobs only (--metadata-only)' : ''}${idleExitMs > 0 ? `; exits after ${idleExitMs / 1000} s idle` : ''}`,
  );

  const reason = await untilStopped(ctx, mirror, idleExitMs);
  log.info(`stopping (${reason})`);
  await stopServing(mirror.server);
  procTables.close();
  closePull();
  await log.close();
  return 0;
}

function isLoopbackUrl(address: string): boolean {
  try {
    return isLoopbackHost(new URL(address).hostname);
  } catch {
    return false; // not an IP socket
  }
}

// Resolves with why the endpoint stops: a signal, or idleness.
function untilStopped(
  ctx: CommandContext,
  mirror: ReturnType<typeof createMirrorServer>,
  idleExitMs: number,
): Promise<string> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const arm = (open: number): void => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (idleExitMs > 0 && open === 0)
        timer = setTimeout(() => finish(`no connection for ${idleExitMs / 1000} s`), idleExitMs);
    };
    const unsubscribe = ctx.onSignal?.(['SIGTERM', 'SIGINT'], (signal) => finish(signal)) ?? (() => {});
    const finish = (why: string): void => {
      if (timer) clearTimeout(timer);
      idleExitMs = 0; // no re-arming while stopping
      unsubscribe();
      resolve(why);
    };
    mirror.onConnectionsChange(arm);
    arm(mirror.openConnections());
  });
}

// Counts the credential requests that reach the service (cache misses), by outcome.
function countingClient(client: ServiceClient, metrics: MirrorMetrics): ServiceClient {
  return {
    ...client,
    async getCredential(registryKey, repository) {
      try {
        const credential = await client.getCredential(registryKey, repository);
        metrics.increment('dstack_mirror_credential_requests_total', { outcome: credential.kind });
        return credential;
      } catch (error) {
        metrics.increment('dstack_mirror_credential_requests_total', {
          outcome: error instanceof CodedError ? error.code : 'error',
        });
        throw error;
      }
    },
  };
}
