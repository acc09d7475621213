import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenStack, type TokenStack } from './harness/token-stack.ts';
import { describeResult } from './harness/docker-cli.ts';
import { lineMatching } from './harness/log-match.ts';
import { credentialGrants } from '../helpers/built-service.ts';
import { runPodman } from './harness/podman.ts';

// Scenario 8: clients other than the docker CLI use the same helper: skopeo with an authfile
// naming it in credHelpers, and podman through the registries.conf drop-in `configure` wrote
// (the mirror for docker.io), asking the helper for the mirror's own host key.
describe('e2e: skopeo and podman through the helper', () => {
  let stack: TokenStack;
  beforeAll(async () => {
    stack = await startTokenStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('skopeo inspect with credHelpers in the authfile', async () => {
    const before = credentialGrants(await stack.service.audit()).length;
    const result = await execa(
      'skopeo',
      [
        'inspect',
        '--authfile',
        stack.paths.dockerConfigJson,
        '--tls-verify=false',
        `docker://${stack.registry.host}/python:3.14`,
      ],
      { env: stack.host.env, extendEnv: false, reject: false, timeout: 60_000 },
    );
    expect(result.exitCode, describeResult(result)).toBe(0);
    expect(JSON.parse(String(result.stdout)).Digest).toBe(stack.images.get('python:3.14')!.manifestDigest);
    expect(credentialGrants(await stack.service.audit()).length).toBe(before + 1);
    expect(await stack.host.debugLog()).toContain(stack.registry.host);
    expect(
      lineMatching(await stack.registry.log(), /"(GET|HEAD) \/v2\/python\/manifests\/3\.14 HTTP\/1\.1" 200 .*skopeo/),
      'skopeo got the manifest',
    ).toBeDefined();
  });

  it('podman pull docker.io/library/python:3.14 goes to the mirror from the drop-in, with the helper', async () => {
    const dropIn = await readFile(stack.paths.registriesDropIn, 'utf8');
    expect(dropIn).toContain(stack.registry.host);
    const root = join(stack.dir, 'podman');
    await mkdir(root, { recursive: true });
    // podman reads registries.conf from CONTAINERS_REGISTRIES_CONF (4.3 has no flag for it) and
    // the Docker client config from $HOME/.docker/config.json, which is where `configure` wrote.
    const podman = (args: string[]) =>
      runPodman(
        { dir: root, env: { ...stack.host.env, CONTAINERS_REGISTRIES_CONF: stack.paths.registriesDropIn } },
        args,
      );
    const logBefore = (await stack.host.debugLog()).length;
    const pull = await podman(['pull', 'docker.io/library/python:3.14']);
    expect(pull.exitCode, describeResult(pull)).toBe(0);
    const inspect = await podman([
      'image',
      'inspect',
      'docker.io/library/python:3.14',
      '--format',
      '{{index .Labels "e2e.seed"}}',
    ]);
    expect(String(inspect.stdout).trim(), describeResult(inspect)).toBe('library/python:3.14');

    // podman asked the helper for the mirror's host (not the Docker Hub key) and the mirror
    // served it to a token from our realm.
    const podmanAsked = (await stack.host.debugLog()).slice(logBefore);
    expect(podmanAsked, 'podman ran the helper for the mirror host').toMatch(
      new RegExp(`cache (hit|miss) for ${stack.registry.host.replace(/\./g, '\\.')}`),
    );
    expect(podmanAsked).not.toContain('https://index.docker.io/v1/');
    const registryLog = await stack.registry.log();
    expect(
      lineMatching(
        registryLog,
        /"(GET|HEAD) \/v2\/library\/python\/manifests\/3\.14 HTTP\/1\.1" 200 .*(podman|containers)/i,
      ),
      'podman got the manifest from the mirror',
    ).toBeDefined();
    const audit = await stack.service.audit();
    expect(
      audit.some(
        (r) =>
          r.event === 'realm' && r.outcome === 'granted' && (r.scope ?? '').includes('repository:library/python:pull'),
      ),
      JSON.stringify(audit),
    ).toBe(true);
  });

  it('ctr with --user instance:<id>:<ticket> (split at the first colon by ctr): one granted realm line, no denied one first', async () => {
    // ctr never runs credential helpers: take the ticket the helper hands out, as a script would.
    const got = await stack.host.run(['get'], { input: `${stack.registry.host}\n` });
    expect(got.exitCode, describeResult(got)).toBe(0);
    const { Username, Secret } = JSON.parse(String(got.stdout)) as { Username: string; Secret: string };
    const socket = join(stack.dir, 'd', 'exec', 'containerd', 'containerd.sock');
    const before = (await stack.service.audit()).length;
    const pull = await execa(
      'ctr',
      [
        '--address',
        socket,
        '--namespace',
        'e2e-ctr',
        'images',
        'pull',
        '--plain-http',
        '--user',
        `${Username}:${Secret}`,
        `${stack.registry.host}/python:3.14`,
      ],
      { reject: false, timeout: 90_000 },
    );
    expect(pull.exitCode, describeResult(pull)).toBe(0);
    const realm = (await stack.service.audit()).slice(before).filter((r) => r.event === 'realm');
    // containerd tries the password grant first (with ctr's split: user "instance", password
    // "<id>:<ticket>"); the realm takes that split too, so no "denied ticket_invalid" precedes the grant.
    expect(
      realm.filter((r) => r.outcome === 'denied'),
      JSON.stringify(realm),
    ).toEqual([]);
    expect(
      realm.some((r) => r.outcome === 'granted' && r.instance === stack.instance),
      JSON.stringify(realm),
    ).toBe(true);
  });
});
