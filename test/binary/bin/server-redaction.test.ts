import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_BINARY, assertServiceBinaryBuilt } from '../../helpers/service-process.ts';

// The service's start-up refusals never show the user info of a URL it was given: one case
// per caller of src/common/redact-url.ts on the service side, through the built binary.
const USER = 'alice';
const PASSWORD = 'S3cret';
const BASE = {
  DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'docker.mycompany.example',
  DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'docker-user',
  DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: 'registry-password-1',
};
let dir: string;

beforeAll(async () => {
  assertServiceBinaryBuilt();
  dir = await mkdtemp(join(tmpdir(), 'server-redaction-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function serve(extra: Record<string, string>): Promise<string> {
  const result = await execa(SERVICE_BINARY, ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data')], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...BASE, ...extra },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: 30_000,
  });
  expect(result.exitCode, String(result.stderr)).toBe(2);
  return `${String(result.stdout)}\n${String(result.stderr)}`;
}

describe('dstack-registry-auth binary: user info in URLs never reaches any output', () => {
  it.each([
    [
      'public URL that does not parse',
      { DSTACK_REGISTRY_AUTH_PUBLIC_URL: `https://${USER}:${PASSWORD}@` },
      'DSTACK_REGISTRY_AUTH_PUBLIC_URL: invalid URL "https://***@": it is not a URL',
    ],
    [
      'mirror URL whose password holds "/"',
      { DSTACK_REGISTRY_AUTH_DEFAULT_MIRROR_URL: `https://${USER}:${PASSWORD}/x@mirror.example` },
      'invalid mirror URL "https://***@mirror.example"',
    ],
    [
      'PostgreSQL database that cannot be reached',
      { DSTACK_REGISTRY_AUTH_DATABASE_URL: `postgresql://${USER}:${PASSWORD}@127.0.0.1:1/revocations` },
      'PostgreSQL at postgresql://***@127.0.0.1:1/revocations',
    ],
    [
      'default registry with user info',
      { DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: `https://${USER}:${PASSWORD}@registry.example` },
      'invalid registry key "https://***@registry.example"',
    ],
  ])('%s', async (_, extra, shown) => {
    const output = await serve(extra);
    expect(output).toContain(shown);
    expect(output).not.toContain(PASSWORD);
    expect(output).not.toContain(USER);
  });
});
