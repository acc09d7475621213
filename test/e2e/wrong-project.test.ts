import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticStack, type StaticStack } from './harness/static-stack.ts';
import { docker, inspectImage, describeResult, QUIET } from './harness/docker-cli.ts';
import { lineMatching } from './harness/log-match.ts';

// Scenario 9: a registry only project B may use. An instance of project A gets no credential
// for it and the pull fails with a message saying so; project A's own registry still works.
describe('e2e: registry of another project', () => {
  let stack: StaticStack;
  beforeAll(async () => {
    stack = await startStaticStack({
      project: 'A',
      extraRegistries: [{ name: 'only-b', auth: 'htpasswd', projects: ['B'] }],
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('project A cannot pull from project B registry, and the user reads why', async () => {
    const onlyB = stack.extra.get('only-b')!;
    // host-config lists only what project A may use, so configure did not name B's registry...
    const config = JSON.parse(await readFile(stack.paths.dockerConfigJson, 'utf8'));
    expect(config.credHelpers[stack.registry.process.host]).toBe('dstack');
    expect(config.credHelpers[onlyB.process.host]).toBeUndefined();
    // ...but a host may still name the helper for it (hand edit, credsStore, a moved instance):
    // the service must refuse, not the client config.
    config.credHelpers[onlyB.process.host] = 'dstack';
    await writeFile(stack.paths.dockerConfigJson, JSON.stringify(config, null, 2));

    // docker CLI 28 discards the helper's error for `pull`; the helper's stderr is what the user reads.
    const denied = await docker(stack.dockerd, stack.host, ['pull', `${onlyB.process.host}/app:1`], QUIET);
    expect(denied.exitCode, describeResult(denied)).not.toBe(0);
    expect(String(denied.stderr)).toMatch(/not allowed for this (instance's )?project/i);
    expect(await inspectImage(stack.dockerd, stack.host, `${onlyB.process.host}/app:1`)).toBeUndefined();

    const audit = await stack.service.audit();
    const decision = audit.filter((r) => r.event === 'credential' && r.registry === onlyB.process.host);
    expect(decision.length).toBeGreaterThan(0);
    expect(
      decision.every((r) => r.outcome === 'denied' && r.project === 'A'),
      JSON.stringify(decision),
    ).toBe(true);
    // The password of B's registry never reached A's host.
    expect(await stack.host.debugLog()).not.toContain(onlyB.account!.password);
    // (The seeder used B's account; the engine's requests carry a docker/ user agent.)
    const bLog = await onlyB.process.log();
    const bAccountFromDocker = /auth\.user\.name="?only-b-user.*useragent="?docker\//;
    expect(lineMatching(bLog, bAccountFromDocker), 'B registry never saw B account from the engine').toBeUndefined();
    expect(
      lineMatching(bLog, /"GET \/v2\/ HTTP\/1\.1" 401 .*"docker\//),
      'the engine did try, without credentials',
    ).toBeDefined();
    // The registry does log B's account with a docker/ user agent in that format: one such request, by hand.
    const byHand = await fetch(`${onlyB.process.url}/v2/app/manifests/1`, {
      headers: {
        authorization: onlyB.account!.basic,
        'user-agent': 'docker/28.2.2 e2e-format-check',
        accept: 'application/vnd.docker.distribution.manifest.v2+json',
      },
    });
    expect(byHand.status).toBe(200);
    expect(
      lineMatching((await onlyB.process.log()).slice(bLog.length), bAccountFromDocker),
      'the format of an engine request with B account',
    ).toBeDefined();

    // The same host's own default registry is served normally.
    const allowed = await docker(stack.dockerd, stack.host, ['pull', `${stack.registry.process.host}/app:1`]);
    expect(allowed.exitCode, describeResult(allowed)).toBe(0);
  });
});
