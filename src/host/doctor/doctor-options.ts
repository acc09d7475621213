import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { CodedError } from '../../common/errors.ts';
import { DEFAULT_PATHS, parseEngines, rootHome, type Engine } from '../setup/setup-options.ts';
import { DEFAULT_ENDPOINT_URL, takeEndpointFlags, type EndpointChoice } from '../setup/mirror-endpoint.ts';
import { parseLocalName } from '../setup/local-name.ts';

export interface DoctorOptions {
  help: boolean;
  dockerConfigDir: string;
  daemonJson: string;
  containerdCertsDir: string;
  containerdConfig: string;
  dockerCertsDir: string;
  registriesConfDir: string;
  engines?: Engine[];
  mirrorEndpoint: EndpointChoice;
  localName?: string;
}

export const DOCTOR_USAGE = `Usage: docker-credential-dstack doctor [options]
  --docker-config DIR       Docker client config dir (default $DOCKER_CONFIG or root's ~/.docker)
  --daemon-json PATH        default /etc/docker/daemon.json
  --containerd-certs-dir D  default /etc/containerd/certs.d
  --containerd-config PATH  default /etc/containerd/config.toml
  --docker-certs-dir D      default /etc/docker/certs.d (containerd image store of dockerd)
  --registries-conf-dir D   default /etc/containers/registries.conf.d
  --engines LIST            docker,containerd,podman (default: those installed)
  --mirror-endpoint[=URL]   expect the engines to use the mirror endpoint (default URL ${DEFAULT_ENDPOINT_URL})
  --no-mirror-endpoint      expect them to use the mirrors themselves (default: as configure decides from the server)
  --local-name HOST:PORT    check local-name mode for that name, as configure --local-name set it up
`;

// The paths and choices configure takes, so that doctor checks the host configure set up.
export function parseDoctorOptions(argv: string[], env: Record<string, string | undefined>): DoctorOptions {
  const { rest, choice } = takeEndpointFlags(argv);
  let values;
  try {
    values = parseArgs({
      args: rest,
      strict: true,
      options: {
        'docker-config': { type: 'string' },
        'daemon-json': { type: 'string' },
        'containerd-certs-dir': { type: 'string' },
        'containerd-config': { type: 'string' },
        'docker-certs-dir': { type: 'string' },
        'registries-conf-dir': { type: 'string' },
        engines: { type: 'string' },
        'local-name': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    throw new CodedError('usage', `${(error as Error).message.split('\n')[0]}; see doctor --help`);
  }
  const engines = values.engines === undefined ? undefined : parseEngines(values.engines);
  return {
    help: values.help ?? false,
    dockerConfigDir: values['docker-config'] ?? env.DOCKER_CONFIG ?? join(rootHome(), '.docker'),
    daemonJson: values['daemon-json'] ?? DEFAULT_PATHS.daemonJson,
    containerdCertsDir: values['containerd-certs-dir'] ?? DEFAULT_PATHS.containerdCertsDir,
    containerdConfig: values['containerd-config'] ?? DEFAULT_PATHS.containerdConfig,
    dockerCertsDir: values['docker-certs-dir'] ?? DEFAULT_PATHS.dockerCertsDir,
    registriesConfDir: values['registries-conf-dir'] ?? DEFAULT_PATHS.registriesConfDir,
    ...(engines ? { engines } : {}),
    mirrorEndpoint: choice,
    ...(values['local-name'] !== undefined ? { localName: parseLocalName(values['local-name']) } : {}),
  };
}
