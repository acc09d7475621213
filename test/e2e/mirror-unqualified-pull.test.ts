import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { startTokenStack, type TokenStack } from './harness/token-stack.ts';
import { accessLine, lineMatching } from './harness/log-match.ts';
import { docker, inspectImage, describeResult } from './harness/docker-cli.ts';
import { dockerdMatrix, expectedImageId } from './harness/engine-matrix.ts';
import { DOCKERD_FALLBACK } from './harness/dockerd-fallback.ts';

// Scenario 1: `docker pull python:3.14` (unqualified) is served by the mirror, which accepts
// only tokens from our realm, and the only credential the host had was a ticket.
describe.each(dockerdMatrix())('e2e: unqualified pull through the token-auth mirror, on $label', (engine) => {
  let stack: TokenStack;
  beforeAll(async () => {
    stack = await startTokenStack({ engine });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('configure put the mirror in effect and named the helper for Docker Hub', async () => {
    const info = await stack.dockerd.info();
    expect(info.RegistryConfig.Mirrors).toContain(`${stack.registry.url}/`);
    const config = JSON.parse(await readFile(stack.paths.dockerConfigJson, 'utf8'));
    expect(config.credHelpers['https://index.docker.io/v1/']).toBe('dstack');
  });

  const FALLBACK = DOCKERD_FALLBACK;

  // The containerd store sends no credentials to a registry mirror (moby's containerd
  // resolver asks credentials for the mirror's host only through the rewrite path): the
  // credHelpers path with an authenticating mirror fails there, as configure warns; the
  // mirror endpoint is what works on that store (endpoint-*.test.ts).
  if (engine.containerdStore) {
    it('the containerd store sends the mirror no credential: the pull is denied and dockerd goes on to Docker Hub', async () => {
      const registryBefore = (await stack.registry.log()).length;
      const pull = await docker(stack.dockerd, stack.host, ['pull', 'python:3.14']);
      expect(pull.exitCode, describeResult(pull)).not.toBe(0);
      expect(String(pull.stderr)).toMatch(/pull access denied|unauthorized/);
      const registryLog = (await stack.registry.log()).slice(registryBefore);
      expect(
        lineMatching(
          registryLog,
          /"(GET|HEAD) \/v2\/library\/python\/manifests\/3\.14(\?ns=docker\.io)? HTTP\/1\.1" 401 /,
        ),
        'the mirror challenged the manifest request',
      ).toBeDefined();
      // The CLI did get the ticket from the helper; dockerd came to the realm without it.
      const realm = (await stack.service.audit()).filter((r) => r.event === 'realm');
      expect(
        realm.some((r) => r.outcome === 'denied' && r.reason === 'anonymous'),
        JSON.stringify(realm),
      ).toBe(true);
      expect(
        realm.some((r) => r.outcome === 'granted'),
        JSON.stringify(realm),
      ).toBe(false);
      expect(
        lineMatching(registryLog, /msg="authorized request"/),
        'no request reached the mirror with a token',
      ).toBeUndefined();
      expect(
        lineMatching(await readFile(stack.dockerd.logPath, 'utf8'), DOCKERD_FALLBACK),
        'the containerd store’s fallback line',
      ).toBeDefined();
    });
    return;
  }

  it('pulls python:3.14 from the mirror with a ticket the service issued', async () => {
    const pull = await docker(stack.dockerd, stack.host, ['pull', 'python:3.14']);
    expect(pull.exitCode, describeResult(pull)).toBe(0);

    // The engine holds exactly the image seeded into the mirror.
    const image = await inspectImage(stack.dockerd, stack.host, 'python:3.14');
    expect(image).toEqual({
      id: expectedImageId(engine, stack.images.get('library/python:3.14')!),
      seed: 'library/python:3.14',
    });

    // The helper was asked for the Docker Hub key and had to go to the service.
    const helperLog = await stack.host.debugLog();
    expect(helperLog).toContain('https://index.docker.io/v1/');
    expect(helperLog).toMatch(/cache miss/i);

    // The service issued a credential (a ticket, issuer source) and granted pull at its realm.
    const audit = await stack.service.audit();
    const issued = audit.filter((r) => r.event === 'credential' && r.outcome === 'granted');
    expect(issued).toHaveLength(1);
    expect(issued[0]).toMatchObject({ instance: stack.instance, project: 'main', source: 'issuer' });
    const grants = audit.filter((r) => r.event === 'realm' && r.outcome === 'granted');
    expect(grants.length).toBeGreaterThan(0);
    expect(
      grants.some((r) => (r.scope ?? '').includes('repository:library/python:pull')),
      JSON.stringify(grants),
    ).toBe(true);
    expect(
      grants.every((r) => r.instance === stack.instance),
      JSON.stringify(grants),
    ).toBe(true);

    // The registry challenged (401 on /v2/), then authorized the manifest request with a token naming the instance.
    const registryLog = await stack.registry.log();
    expect(lineMatching(registryLog, accessLine('GET', '/v2/', 401)), 'registry challenged /v2/').toBeDefined();
    expect(
      lineMatching(registryLog, accessLine('GET|HEAD', '/v2/library/python/manifests/3.14', 200)),
      'registry served the tag',
    ).toBeDefined();
    expect(
      lineMatching(registryLog, /msg="authorized request".*uri=\/v2\/library\/python\/manifests\/3\.14/),
      'registry authorized the tag request',
    ).toBeDefined();
    expect(
      lineMatching(
        registryLog,
        new RegExp(`msg=GetImageManifest auth\\.user\\.name="?${stack.instance}"? .*uri=/v2/library/python/manifests/`),
      ),
      'token subject is the instance',
    ).toBeDefined();

    // dockerd used the mirror and did not fall back to Docker Hub...
    const dockerdLog = await readFile(stack.dockerd.logPath, 'utf8');
    expect(lineMatching(dockerdLog, FALLBACK), 'no fallback to Docker Hub').toBeUndefined();
    // ...which dockerd does log, in that format, when the mirror cannot serve a pull.
    const missing = await docker(stack.dockerd, stack.host, ['pull', 'python:no-such-tag']);
    expect(missing.exitCode, describeResult(missing)).not.toBe(0);
    expect(
      lineMatching((await readFile(stack.dockerd.logPath, 'utf8')).slice(dockerdLog.length), FALLBACK),
      'the fallback line, once the mirror fails',
    ).toBeDefined();
  });
});
