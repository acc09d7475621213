import { mkdir, writeFile } from 'node:fs/promises';
import { freeLoopbackPort } from './free-port.ts';
import { join } from 'node:path';
import { TEST_INSTANCE_TOKEN, type ContractServer } from './contract-server.ts';
import type { FakeHost } from './setup-fixture.ts';

// doctor's paths inside the fake host, so that it never reads the machine's own engine files.
export function doctorArgs(host: FakeHost, engines: string): string[] {
  return [...host.fileArgs, '--engines', engines];
}

// The helper's config and token for `server` inside the fake host, and an environment whose
// PATH starts with the host's own bin directory.
export async function helperEnv(host: FakeHost, server: ContractServer): Promise<Record<string, string>> {
  const tokenFile = join(host.root, 'token');
  await writeFile(tokenFile, TEST_INSTANCE_TOKEN, { mode: 0o600 });
  const configPath = join(host.root, 'helper-config.json');
  await writeFile(configPath, JSON.stringify({ server: server.url, tokenFile, cacheDir: join(host.root, 'cache') }));
  const bin = join(host.root, 'bin');
  await mkdir(bin);
  // Docker Hub stands for a closed loopback port: doctor's fallback check never leaves the host.
  return {
    DOCKER_CREDENTIAL_DSTACK_CONFIG: configPath,
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    DOCKER_CONFIG: host.dockerConfig,
    DOCKER_CREDENTIAL_DSTACK_HUB_PROBE: `127.0.0.1:${await freeLoopbackPort()}`,
  };
}
