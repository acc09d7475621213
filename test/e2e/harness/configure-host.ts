import { join } from 'node:path';
import type { Dockerd } from './dockerd.ts';
import type { HelperHost } from './helper-env.ts';

// The real `docker-credential-dstack configure`, pointed at the private engine's files instead
// of /etc: it asks the service for the host config, writes credHelpers into the client config,
// registry-mirrors into daemon.json (then SIGHUP to our dockerd) and the podman drop-in.
export interface ConfiguredPaths {
  dockerConfigJson: string;
  daemonJson: string;
  registriesConfDir: string;
  registriesDropIn: string;
}

export async function configureHost(host: HelperHost, dockerd: Dockerd, dir: string): Promise<ConfiguredPaths> {
  const registriesConfDir = join(dir, 'registries.conf.d');
  const args = [
    'configure',
    '--docker-config',
    host.dockerConfigDir,
    '--daemon-json',
    dockerd.daemonJsonPath,
    '--dockerd-pidfile',
    join(dir, 'dockerd.pid'),
    '--registries-conf-dir',
    registriesConfDir,
    // Everything else configure may touch stays under `dir` too, never /etc or /var/lib.
    '--docker-certs-dir',
    dockerd.certsDir,
    '--containerd-certs-dir',
    join(dir, 'containerd-certs.d'),
    '--containerd-config',
    join(dir, 'containerd-config.toml'),
    '--state-dir',
    join(dir, 'setup-state'),
    '--engines',
    'docker,podman',
  ];
  const result = await host.run(args, { env: { DOCKER_HOST: dockerd.host } });
  if (result.exitCode !== 0) {
    throw new Error(
      `docker-credential-dstack ${args.join(' ')} failed (exit ${result.exitCode}):\n${String(result.stdout)}\n${String(result.stderr)}`,
    );
  }
  return {
    dockerConfigJson: join(host.dockerConfigDir, 'config.json'),
    daemonJson: dockerd.daemonJsonPath,
    registriesConfDir,
    registriesDropIn: join(registriesConfDir, '90-docker-credential-dstack.conf'),
  };
}
