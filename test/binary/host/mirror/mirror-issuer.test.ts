import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, seedImage, type RegistryProcess, type SeededImage } from '../../../helpers/registry.ts';
import { startService, credentialGrants, type Service } from '../../../helpers/built-service.ts';
import { expectLog, mirrorHome, startMirror, type MirrorProcess } from '../../../helpers/mirror-process.ts';
import { MANIFEST_V2, mirrorTestsRunnable } from '../../../helpers/static-upstream.ts';

// The issuer source: the registry (`auth: token`) trusts the service as its realm; the host
// gets a pull ticket, and the endpoint trades it at the realm for per-repository registry
// tokens (the Bearer challenge, token dance with GET + Basic).
const runnable = mirrorTestsRunnable();
const REPOSITORIES = [
  'library/python',
  'library/redis',
  'library/node',
  'team/app',
  'team/worker',
  'library/golang',
  'library/ruby',
  'library/perl',
  'library/php',
  'library/rust',
];

let dir: string;
let registry: RegistryProcess;
let service: Service;
let mirror: MirrorProcess;
const images = new Map<string, SeededImage>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mirror-issuer-'));
  const seeding = await startRegistry({ dir: join(dir, 'reg'), name: 'seed' });
  for (const repository of REPOSITORIES)
    images.set(repository, await seedImage({ registryUrl: seeding.url, repository, tag: '1' }));
  await seeding.stop();
  service = await startService({
    dir: join(dir, 'svc'),
    env: { DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: seeding.host, DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'issuer' },
  });
  const authYaml = await service.registryConfig(seeding.host, join(dir, 'reg-auth'));
  registry = await startRegistry({
    dir: join(dir, 'reg'),
    port: seeding.port,
    auth: { yaml: authYaml },
    name: 'registry',
  });
  const home = await mirrorHome(
    join(dir, 'host'),
    service.url,
    await service.issueToken({ instance: 'i-issuer', project: 'main' }),
  );
  // No --upstream: the service's host config names the registry (its engine mirror).
  mirror = await startMirror(home, ['--listen', '127.0.0.1:0']);
}, 60_000);
afterAll(async () => {
  await mirror?.stop();
  await registry?.stop();
  await service?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!runnable)('mirror (built binary) against a token-auth registry whose realm is the service', () => {
  it('10 concurrent pulls of different repositories: one credential request, one registry token per repository', async () => {
    const answers = await Promise.all(
      REPOSITORIES.map((repository) =>
        fetch(`${mirror.url}/v2/${repository}/manifests/1`, { headers: { accept: MANIFEST_V2 } }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(REPOSITORIES.map(() => 200));
    expect(answers.map((a) => a.headers.get('docker-content-digest'))).toEqual(
      REPOSITORIES.map((r) => images.get(r)!.manifestDigest),
    );

    const audit = await service.audit();
    expect(credentialGrants(audit)).toHaveLength(1);
    expect(credentialGrants(audit)[0]).toMatchObject({ instance: 'i-issuer', source: 'issuer' });
    const realmGrants = audit.filter((r) => r.event === 'realm' && r.outcome === 'granted');
    expect(realmGrants.map((r) => r.scope).sort()).toEqual(REPOSITORIES.map((r) => `repository:${r}:pull`).sort());

    // The registry authorized the manifest requests with a token naming the instance.
    expect(await registry.log()).toMatch(
      /msg=GetImageManifest auth\.user\.name="?i-issuer"? .*uri=\/v2\/library\/python\/manifests\/1/,
    );
    const metrics = await (await fetch(`${mirror.url}/metrics`)).text();
    expect(metrics).toMatch(/^dstack_mirror_credential_requests_total\{outcome="basic"\} 1$/m);
    expect(metrics).toMatch(/^dstack_mirror_registry_token_requests_total 10$/m);
  });

  it('the blob of an image pulled a moment ago reuses the registry token of its repository', async () => {
    const image = images.get('library/python')!;
    const blob = await fetch(`${mirror.url}/v2/library/python/blobs/${image.layerDigest}`);
    expect(blob.status).toBe(200);
    await blob.arrayBuffer();
    const metrics = await (await fetch(`${mirror.url}/metrics`)).text();
    expect(metrics).toMatch(/^dstack_mirror_registry_token_requests_total 10$/m);
    await expectLog(
      mirror,
      new RegExp(
        `pull method=GET kind=blob repository=library/python ref=${image.layerDigest} upstream=${registry.url} status=200`,
      ),
    );
  });

  it('the probe gets a token at the realm and reaches /v2/ with it', async () => {
    const probe = await fetch(`${mirror.url}/_dstack/probe`);
    expect(await probe.json()).toEqual({
      upstream: registry.url,
      registry: registry.host,
      status: 200,
      ok: true,
      reason: 'ok',
      detail: 'the upstream accepts the credential from the dstack server',
    });
  });
});
