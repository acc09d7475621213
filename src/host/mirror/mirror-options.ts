import { parseArgs } from 'node:util';
import { CodedError } from '../../common/errors.ts';
import { parseDuration } from '../../common/duration.ts';
import { DEFAULT_MIRROR_LISTEN } from './server/default-listen.ts';
import { DEFAULT_MAX_CONNECTIONS_PER_UID } from './server/peer-admission.ts';
import { isLibraryMode, type LibraryMode } from './upstream/upstream.ts';

export interface MirrorOptions {
  help: boolean;
  listen: string;
  listenGiven: boolean;
  upstreams: string[];
  library: LibraryMode;
  // --upstream-realm: token realm hosts the --upstream credentials may go to besides their own.
  upstreamRealms: string[];
  allowUids: number[];
  allowGids: number[];
  // Open connections one uid other than 0 may hold (peer-admission.ts).
  maxConnectionsPerUid: number;
  // undefined: the default for the mode (none in the foreground, 10m under socket activation); 0: never.
  idleExitMs?: number;
  allowNonLoopback: boolean;
  // PEM files; both or neither. Given: the listener speaks https (local-name mode's dstack
  // server reads with python-dxf, which only speaks https).
  tlsCert?: string;
  tlsKey?: string;
  // Serve manifests, tag lists and config blobs only (metadata-only.ts): the dstack server host's endpoint.
  metadataOnly: boolean;
}

export const MIRROR_USAGE = `Usage: docker-credential-dstack mirror [options]
  the host-local registry mirror endpoint: engines use it as their Docker Hub mirror, and it
  forwards each pull upstream with a short-lived credential from the dstack server
Options:
  --listen HOST:PORT      loopback address to listen on (default ${DEFAULT_MIRROR_LISTEN}); ignored under systemd socket activation
  --upstream URL          where pulls go (repeatable, tried in order; a path is a repository namespace,
                          e.g. https://harbor.example/dockerhub-proxy); default: the dstack server's host config
  --library MODE          library/ handling for --upstream: keep (default), strip, both
  --upstream-realm HOST   a token realm host[:port] the --upstream credentials may be sent to besides
                          the upstream's own host (repeatable; Docker Hub's auth.docker.io is built in)
  --allow-uid UID         also serve connections from this uid (repeatable; uid 0 always)
  --allow-gid GID         also serve the members of this group (repeatable)
  --max-connections-per-uid N
                          connections one uid other than 0 may hold open (default ${DEFAULT_MAX_CONNECTIONS_PER_UID});
                          more are closed at once, so no local user can use up the endpoint's descriptors
  --idle-exit DURATION    exit after this long with no connection (e.g. 10m; 0 = never);
                          default 10m under socket activation, never in the foreground
  --tls-cert FILE         serve https with this PEM certificate (chain) instead of http; needs --tls-key
  --tls-key FILE          the PEM private key of --tls-cert (see docker-credential-dstack mirror-cert)
  --metadata-only         serve manifests, tag lists and the config blobs of manifests served, no layer
                          blobs: the dstack server host's endpoint (local-name mode, docs/with-dstack.md)
  --allow-non-loopback    allow a --listen address that is not loopback (the endpoint carries the fleet's pull rights)
Settings (server, token file, cache, CA, timeout, log file): as for get, see docs/helper.md.
`;

export function parseMirrorOptions(argv: string[]): MirrorOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        listen: { type: 'string' },
        upstream: { type: 'string', multiple: true },
        library: { type: 'string' },
        'upstream-realm': { type: 'string', multiple: true },
        'allow-uid': { type: 'string', multiple: true },
        'allow-gid': { type: 'string', multiple: true },
        'max-connections-per-uid': { type: 'string' },
        'idle-exit': { type: 'string' },
        'allow-non-loopback': { type: 'boolean' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'metadata-only': { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new CodedError(
      'usage',
      `${(error as Error).message.split('\n')[0]}; see docker-credential-dstack mirror --help`,
    );
  }
  const v = parsed.values;
  const library = v.library ?? 'keep';
  if (!isLibraryMode(library))
    throw new CodedError('usage', `--library ${library.slice(0, 20)}: use keep, strip or both`);
  const idle = v['idle-exit'];
  const tlsCert = v['tls-cert'];
  const tlsKey = v['tls-key'];
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    throw new CodedError(
      'usage',
      `${tlsCert === undefined ? '--tls-key' : '--tls-cert'} needs ${tlsCert === undefined ? '--tls-cert' : '--tls-key'} too: give both PEM files, or neither for plain http`,
    );
  return {
    help: v.help ?? false,
    listen: v.listen ?? DEFAULT_MIRROR_LISTEN,
    listenGiven: v.listen !== undefined,
    upstreams: v.upstream ?? [],
    library,
    upstreamRealms: v['upstream-realm'] ?? [],
    allowUids: (v['allow-uid'] ?? []).map((text) => id(text, '--allow-uid')),
    allowGids: (v['allow-gid'] ?? []).map((text) => id(text, '--allow-gid')),
    maxConnectionsPerUid: connectionCap(v['max-connections-per-uid']),
    ...(idle === undefined
      ? {}
      : { idleExitMs: /^\s*(0|none|never|off)\s*$/i.test(idle) ? 0 : parseDuration(idle, '--idle-exit') * 1000 }),
    allowNonLoopback: v['allow-non-loopback'] ?? false,
    metadataOnly: v['metadata-only'] ?? false,
    ...(tlsCert !== undefined && tlsKey !== undefined ? { tlsCert, tlsKey } : {}),
  };
}

function id(text: string, flag: string): number {
  if (!/^\d{1,10}$/.test(text.trim()) || Number(text) > 0xfffffffe)
    throw new CodedError('usage', `${flag} ${text.slice(0, 20)} is not a numeric id`);
  return Number(text);
}

function connectionCap(text: string | undefined): number {
  if (text === undefined) return DEFAULT_MAX_CONNECTIONS_PER_UID;
  if (!/^\s*\d{1,6}\s*$/.test(text) || Number(text) < 1)
    throw new CodedError(
      'usage',
      `--max-connections-per-uid ${text.slice(0, 20)}: give a whole number from 1 to 999999 (default ${DEFAULT_MAX_CONNECTIONS_PER_UID})`,
    );
  return Number(text);
}
