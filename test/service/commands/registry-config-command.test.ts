import { useTempDirs } from '../../helpers/temp-dirs.ts';
import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { registryConfigCommand, BUNDLE_FILE } from '../../../src/service/commands/registry-config-command.ts';
import { loadRegistrySigningKeys } from '../../../src/service/token/registry-signing-keys.ts';

const tempDir = useTempDirs('registry-config-');

async function run(argv: string[], env: Record<string, string>, cwd: string) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => (out += chunk));
  stderr.on('data', (chunk) => (err += chunk));
  const code = await registryConfigCommand({ argv, env, stdin: new PassThrough(), stdout, stderr, cwd });
  return { code, out, err };
}

async function setup() {
  const dir = await tempDir();
  const env = {
    DSTACK_REGISTRY_AUTH_DATA_DIR: join(dir, 'data'),
    DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'docker.mycompany.example',
    DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'issuer',
    DSTACK_REGISTRY_AUTH_PUBLIC_URL: 'https://auth.mycompany.example',
  };
  return { dir, env };
}

describe('registry-config', () => {
  it('writes the bundle into the working directory by default and prints the snippet', async () => {
    const { dir, env } = await setup();
    const { code, out } = await run(['--registry', 'https://Docker.MyCompany.example/'], env, dir);
    expect(code).toBe(0);
    expect(out).toContain('realm: "https://auth.mycompany.example/v1/token"');
    expect(out).toContain('service: "docker.mycompany.example"');
    expect(out).toContain(`rootcertbundle: ${JSON.stringify(join(dir, BUNDLE_FILE))}`);
    const keys = await loadRegistrySigningKeys({ dataDir: join(dir, 'data'), issuerName: 'dstack-registry-auth' });
    expect(new X509Certificate(await readFile(join(dir, BUNDLE_FILE), 'utf8')).verify(keys.current.publicKey)).toBe(
      true,
    );
  });

  it('uses --realm as given and the service named in the configuration', async () => {
    const { dir, env } = await setup();
    const { code, out } = await run(
      ['--registry', 'docker.mycompany.example', '--realm', 'https://elsewhere.example/v1/token', '--out', 'sub'],
      { ...env, DSTACK_REGISTRY_AUTH_DEFAULT_SERVICE: 'Registry Service' },
      dir,
    );
    expect(code).toBe(0);
    expect(out).toContain('realm: "https://elsewhere.example/v1/token"');
    expect(out).toContain('service: "Registry Service"');
    expect(out).toContain(join(dir, 'sub', BUNDLE_FILE));
  });

  it('puts previous keys in the bundle too', async () => {
    const { dir, env } = await setup();
    await run(['--registry', 'docker.mycompany.example'], env, dir);
    await rename(join(dir, 'data', 'keys', 'registry.pem'), join(dir, 'data', 'keys', 'registry.previous-1.pem'));
    const { err } = await run(['--registry', 'docker.mycompany.example'], env, dir);
    expect(err).toContain('2 certificates');
    expect((await readFile(join(dir, BUNDLE_FILE), 'utf8')).match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  it('refuses registries that are unknown or not served by the issuer source, and bad usage', async () => {
    const { dir, env } = await setup();
    const unknown = await run(['--registry', 'other.example'], env, dir);
    expect(unknown).toMatchObject({ code: 2, out: '' });
    expect(unknown.err).toContain('registry other.example is not configured');
    const file = join(dir, 'config.json');
    await writeFile(
      file,
      JSON.stringify({ registries: [{ registry: 'static.example', source: 'static', username: 'u', password: 'p' }] }),
    );
    const stat = await run(['--registry', 'static.example'], { ...env, DSTACK_REGISTRY_AUTH_CONFIG: file }, dir);
    expect(stat.code).toBe(2);
    expect(stat.err).toContain('uses the static source');
    expect((await run([], env, dir)).code).toBe(2);
    expect((await run(['--registry', 'x', '--bogus'], env, dir)).code).toBe(2);
  });
});
