import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticStack, type StaticStack } from './harness/static-stack.ts';
import { accessLine, lineMatching } from './harness/log-match.ts';
import { docker, inspectImage, describeResult, QUIET } from './harness/docker-cli.ts';
import { credentialGrants } from '../helpers/built-service.ts';

// Scenario 6: the service is down. A valid cached credential still pulls (static source: the
// registry checks the password itself, no realm involved). Without one, the default policy
// stops the pull with the helper's readable reason (against the htpasswd registry, cache
// erased) and the `anonymous` policy goes on anonymously (against an open registry).
describe('e2e: service down', () => {
  let stack: StaticStack;
  beforeAll(async () => {
    stack = await startStaticStack({ extraRegistries: [{ name: 'open', auth: 'open' }] });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('with a cached credential the pull succeeds; without one it fails readably or goes anonymous', async () => {
    const registry = stack.registry.process;
    const open = stack.extra.get('open')!.process;
    // Warm the cache for the htpasswd registry only.
    const warm = await docker(stack.dockerd, stack.host, ['pull', `${registry.host}/app:1`]);
    expect(warm.exitCode, describeResult(warm)).toBe(0);
    await docker(stack.dockerd, stack.host, ['image', 'rm', `${registry.host}/app:1`]);
    expect(credentialGrants(await stack.service.audit())).toHaveLength(1);

    await stack.service.stop();

    const cached = await docker(stack.dockerd, stack.host, ['pull', `${registry.host}/app:1`]);
    expect(cached.exitCode, describeResult(cached)).toBe(0);
    expect((await inspectImage(stack.dockerd, stack.host, `${registry.host}/app:1`))?.seed).toBe('app:1');
    expect(await stack.host.debugLog()).toMatch(/cache hit/i);

    // No cached credential (erased), default policy `fail`: the helper fails with its reason,
    // which names the unreachable service. docker CLI 28 then goes on without credentials (it
    // discards a helper's error for `pull`), so the registry refuses, and the only place the
    // user can read the reason is the helper's stderr, which the CLI passes through.
    const erase = await stack.host.run(['erase'], { input: `${registry.host}\n` });
    expect(erase.exitCode, describeResult(erase)).toBe(0);
    const direct = await stack.host.run(['get'], { input: `${registry.host}\n` });
    expect(direct.exitCode).toBe(1);
    expect(String(direct.stdout)).toContain(stack.service.url);
    expect(String(direct.stdout)).not.toContain(stack.registry.account!.password);
    await docker(stack.dockerd, stack.host, ['image', 'rm', `${registry.host}/app:1`]);
    const failed = await docker(stack.dockerd, stack.host, ['pull', `${registry.host}/app:1`], QUIET);
    expect(failed.exitCode, describeResult(failed)).not.toBe(0);
    expect(await inspectImage(stack.dockerd, stack.host, `${registry.host}/app:1`)).toBeUndefined();
    expect(String(failed.stderr), 'the user reads why: the service is unreachable').toContain(stack.service.url);
    expect(String(failed.stderr)).toMatch(/unreachable|cannot reach|could not reach|connection refused|ECONNREFUSED/i);

    // Policy `anonymous`: the helper answers "not found", the CLI pulls anonymously, the open
    // registry serves it.
    const anonymous = await docker(stack.dockerd, stack.host, ['pull', `${open.host}/app:1`], {
      DOCKER_CREDENTIAL_DSTACK_ON_ERROR: 'anonymous',
    });
    expect(anonymous.exitCode, describeResult(anonymous)).toBe(0);
    expect((await inspectImage(stack.dockerd, stack.host, `${open.host}/app:1`))?.seed).toBe('app:1');
    expect(await stack.host.debugLog()).toMatch(/anonymous/i);
    expect(
      lineMatching(await open.log(), accessLine('GET|HEAD', '/v2/app/manifests/1', 200)),
      'anonymous pull served',
    ).toBeDefined();
  });
});
