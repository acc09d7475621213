import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenStack, type TokenStack } from './harness/token-stack.ts';
import { accessLine, lineMatching } from './harness/log-match.ts';
import { docker, inspectImage, describeResult } from './harness/docker-cli.ts';
import { dockerdMatrix, expectedImageId } from './harness/engine-matrix.ts';

// Scenario 2: the reference the dstack server produces when it prefixes the default registry
// (`<registry>/python:3.14`) pulls with the helper's credential for that host's own key.
describe.each(dockerdMatrix())('e2e: rewritten reference <registry>/python:3.14, on $label', (engine) => {
  let stack: TokenStack;
  beforeAll(async () => {
    stack = await startTokenStack({ engine });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('configure named the helper for the registry host too', async () => {
    const config = JSON.parse(await readFile(stack.paths.dockerConfigJson, 'utf8'));
    expect(config.credHelpers[stack.registry.host]).toBe('dstack');
  });

  it('pulls 127.0.0.1:PORT/python:3.14 with a ticket for that key', async () => {
    const ref = `${stack.registry.host}/python:3.14`;
    const pull = await docker(stack.dockerd, stack.host, ['pull', ref]);
    expect(pull.exitCode, describeResult(pull)).toBe(0);
    expect(await inspectImage(stack.dockerd, stack.host, ref)).toEqual({
      id: expectedImageId(engine, stack.images.get('python:3.14')!),
      seed: 'python:3.14',
    });

    // The CLI asked the helper for the registry's own key, not Docker Hub's.
    const helperLog = await stack.host.debugLog();
    const verdict = (key: string) =>
      new RegExp(`debug: cache (hit|miss) for ${key.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`);
    expect(helperLog).toMatch(verdict(stack.registry.host));
    expect(helperLog).not.toMatch(verdict('https://index.docker.io/v1/'));

    const audit = await stack.service.audit();
    expect(audit.filter((r) => r.event === 'credential' && r.outcome === 'granted')).toHaveLength(1);
    expect(
      audit.some(
        (r) => r.event === 'realm' && r.outcome === 'granted' && (r.scope ?? '').includes('repository:python:pull'),
      ),
      JSON.stringify(audit),
    ).toBe(true);

    const registryLog = await stack.registry.log();
    expect(
      lineMatching(registryLog, accessLine('GET|HEAD', '/v2/python/manifests/3.14', 200)),
      'registry served the tag',
    ).toBeDefined();
    expect(
      lineMatching(
        registryLog,
        new RegExp(`msg=GetImageManifest auth\\.user\\.name="?${stack.instance}"? .*uri=/v2/python/manifests/`),
      ),
      'token subject is the instance',
    ).toBeDefined();
    // Nothing went to the Docker Hub repository path: this was not the mirror route.
    // (The same access-line format as the served tag above.)
    expect(
      lineMatching(registryLog, /"(GET|HEAD) \/v2\/library\/python\//),
      'no Docker Hub path asked',
    ).toBeUndefined();
  });
});
