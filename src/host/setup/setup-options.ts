import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CodedError } from '../../common/errors.ts';
import { stateDirOf } from './journal/setup-state.ts';
import { parseDuration } from '../../common/duration.ts';
import { takeEndpointFlags, ENDPOINT_USAGE, type EndpointChoice } from './mirror-endpoint.ts';
import { parseLocalName } from './local-name.ts';

import { ENGINES, type Engine } from './engines/detect-engines.ts';

export { ENGINES, type Engine };

export interface SetupOptions {
  dryRun: boolean;
  noReload: boolean;
  force: boolean;
  help: boolean;
  dockerConfigDir: string;
  daemonJson: string;
  mirrors: string[];
  registries: string[];
  // The host-local mirror endpoint: on, off, or the server's fleet default.
  mirrorEndpoint: EndpointChoice;
  // Local-name mode: the loopback registry name the dstack server prefixes (local-name.ts).
  localName?: string;
  engines?: Engine[];
  containerdCertsDir: string;
  // containerd's own config: where CRI is told to read containerdCertsDir (config_path).
  containerdConfig: string;
  dockerCertsDir: string;
  registriesConfDir: string;
  stateDir: string;
  dockerdPid?: number;
  dockerdPidfile?: string;
  // How long to wait for another configure or unconfigure holding the setup lock (setup-lock.ts).
  lockWaitMs: number;
}

// configure and unconfigure wait this long for another run holding the setup lock (setup-lock.ts).
export const DEFAULT_LOCK_WAIT_MS = 30_000;

// Where the engines' files are on a host, unless an option says otherwise.
export const DEFAULT_PATHS = {
  daemonJson: '/etc/docker/daemon.json',
  containerdCertsDir: '/etc/containerd/certs.d',
  containerdConfig: '/etc/containerd/config.toml',
  dockerCertsDir: '/etc/docker/certs.d',
  registriesConfDir: '/etc/containers/registries.conf.d',
} as const;

export const SETUP_USAGE = `Options:
  --dry-run                 print the diff per file, change nothing
  --mirror URL              registry mirror (repeatable); overrides the server's host config, no server needed
  --registry KEY            registry key to name the helper for (repeatable)
${ENDPOINT_USAGE}  --local-name HOST:PORT    local-name mode: what each engine needs to pull HOST:PORT/… from the endpoint (e.g. 127.0.0.1:8484)
  --engines LIST            docker,containerd,podman (default: those installed)
  --force                   replace a credHelpers entry that names another helper
  --no-reload               do not send SIGHUP to dockerd
  --docker-config DIR       Docker client config dir (default $DOCKER_CONFIG or root's ~/.docker)
  --daemon-json PATH        default /etc/docker/daemon.json
  --containerd-certs-dir D  default /etc/containerd/certs.d
  --containerd-config PATH  default /etc/containerd/config.toml (CRI's config_path is set there)
  --docker-certs-dir D      default /etc/docker/certs.d (containerd image store of dockerd)
  --registries-conf-dir D   default /etc/containers/registries.conf.d
  --state-dir D             what configure added, for unconfigure (default /var/lib/docker-credential-dstack)
  --dockerd-pid N | --dockerd-pidfile PATH   the dockerd to check and reload (default: /var/run/docker.pid, else the running dockerd)
  --lock-wait DURATION      how long to wait for another configure or unconfigure to finish (default 30s; 0: do not wait)
`;

// One parser for configure and unconfigure, so both agree on every path.
export function parseSetupOptions(argv: string[], env: Record<string, string | undefined>): SetupOptions {
  const { rest, choice } = takeEndpointFlags(argv);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: false,
      options: {
        'dry-run': { type: 'boolean' },
        'no-reload': { type: 'boolean' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        'docker-config': { type: 'string' },
        'daemon-json': { type: 'string' },
        mirror: { type: 'string', multiple: true },
        registry: { type: 'string', multiple: true },
        'local-name': { type: 'string' },
        engines: { type: 'string' },
        'containerd-certs-dir': { type: 'string' },
        'containerd-config': { type: 'string' },
        'docker-certs-dir': { type: 'string' },
        'registries-conf-dir': { type: 'string' },
        'state-dir': { type: 'string' },
        'dockerd-pid': { type: 'string' },
        'dockerd-pidfile': { type: 'string' },
        'lock-wait': { type: 'string' },
      },
    });
  } catch (error) {
    throw new CodedError('usage', `${(error as Error).message.split('\n')[0]}; see --help`);
  }
  const v = parsed.values;
  const pidText = v['dockerd-pid'];
  const dockerdPid = pidText === undefined ? undefined : Number(pidText);
  if (dockerdPid !== undefined && !(Number.isInteger(dockerdPid) && dockerdPid > 0))
    throw new CodedError('usage', `--dockerd-pid ${pidText} is not a process id`);
  return {
    dryRun: v['dry-run'] ?? false,
    noReload: v['no-reload'] ?? false,
    force: v.force ?? false,
    help: v.help ?? false,
    dockerConfigDir: v['docker-config'] ?? env.DOCKER_CONFIG ?? join(rootHome(), '.docker'),
    daemonJson: v['daemon-json'] ?? DEFAULT_PATHS.daemonJson,
    mirrors: v.mirror ?? [],
    registries: v.registry ?? [],
    mirrorEndpoint: choice,
    ...(v['local-name'] !== undefined ? { localName: parseLocalName(v['local-name']) } : {}),
    engines: v.engines === undefined ? undefined : parseEngines(v.engines),
    containerdCertsDir: v['containerd-certs-dir'] ?? DEFAULT_PATHS.containerdCertsDir,
    containerdConfig: v['containerd-config'] ?? DEFAULT_PATHS.containerdConfig,
    dockerCertsDir: v['docker-certs-dir'] ?? DEFAULT_PATHS.dockerCertsDir,
    registriesConfDir: v['registries-conf-dir'] ?? DEFAULT_PATHS.registriesConfDir,
    stateDir: stateDirOf(v['state-dir'], env),
    dockerdPid,
    dockerdPidfile: v['dockerd-pidfile'],
    lockWaitMs: lockWaitOf(v['lock-wait']),
  };
}

function lockWaitOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LOCK_WAIT_MS;
  if (/^\s*0+\s*[smhd]?\s*$/i.test(text)) return 0;
  try {
    return parseDuration(text, '--lock-wait', 3600) * 1000;
  } catch (error) {
    throw new CodedError('usage', (error as Error).message);
  }
}

export function parseEngines(text: string): Engine[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const name of names) {
    if (!ENGINES.includes(name as Engine))
      throw new CodedError('usage', `--engines: unknown engine "${name.slice(0, 40)}"; use docker, containerd, podman`);
  }
  return [...new Set(names as Engine[])];
}

// Root's home from /etc/passwd: configure runs as root, and the docker CLI root runs reads ~root/.docker.
export function rootHome(): string {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('root:'));
    const home = line?.split(':')[5];
    if (home) return home;
  } catch {
    // no passwd file: the usual place
  }
  return '/root';
}
