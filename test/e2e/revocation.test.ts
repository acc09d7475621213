import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenStack, type TokenStack } from './harness/token-stack.ts';
import { docker, describeResult, QUIET } from './harness/docker-cli.ts';

// Scenario 5: after `revoke`, pulls stop at once: the realm refuses the ticket still in the
// cache, and once the helper has to ask the service, the user reads that the instance token
// was revoked.
describe('e2e: revocation', () => {
  let stack: TokenStack;
  beforeAll(async () => {
    stack = await startTokenStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('a revoked instance can no longer pull, and is told why', async () => {
    const ref = `${stack.registry.host}/python:3.14`;
    const before = await docker(stack.dockerd, stack.host, ['pull', ref]);
    expect(before.exitCode, describeResult(before)).toBe(0);
    await docker(stack.dockerd, stack.host, ['image', 'rm', ref]);

    await stack.service.revoke(stack.instance);

    // The cached ticket is still unexpired, but the realm checks revocation on every token.
    const cachedTicket = await docker(stack.dockerd, stack.host, ['pull', ref]);
    expect(cachedTicket.exitCode, describeResult(cachedTicket)).not.toBe(0);
    // The person reads the realm's reason (its 401 body in the registry error format, which
    // dockerd passes on), not a bare "unauthorized: authentication required".
    expect(String(cachedTicket.stderr), describeResult(cachedTicket)).toMatch(
      /unauthorized: dstack-registry-auth refused the pull ticket: pull ticket rejected: instance \S+ was revoked; ask the dstack operator for a new instance token/,
    );
    const audit = await stack.service.audit();
    expect(
      audit.some(
        (r) =>
          r.event === 'realm' &&
          r.outcome === 'denied' &&
          /revoked/i.test(r.reason ?? '') &&
          r.service === stack.registry.host,
      ),
      JSON.stringify(audit),
    ).toBe(true);

    // With the cache erased (the protocol's own `erase`), the helper asks the service. docker
    // CLI 28 discards a helper's error for `pull` and goes on without credentials, so the user
    // reads the reason only if the helper also writes it to stderr (the CLI passes that through).
    const erase = await stack.host.run(['erase'], { input: `${stack.registry.host}\n` });
    expect(erase.exitCode, describeResult(erase)).toBe(0);
    const after = await docker(stack.dockerd, stack.host, ['pull', ref], QUIET);
    expect(after.exitCode, describeResult(after)).not.toBe(0);
    expect(String(after.stderr)).toMatch(/instance token revoked/i);
    expect(String(after.stderr)).toContain(stack.service.url);

    const afterErase = (await stack.service.audit()).slice(audit.length);
    expect(
      afterErase.some(
        (r) =>
          r.event === 'credential' &&
          r.outcome === 'denied' &&
          r.reason === 'token_revoked' &&
          r.instance === stack.instance,
      ),
      JSON.stringify(afterErase),
    ).toBe(true);
    // CLI 28 went on without credentials: the engine asked the realm anonymously and got nothing.
    expect(
      afterErase.some((r) => r.event === 'realm' && r.outcome === 'denied' && r.reason === 'anonymous'),
      JSON.stringify(afterErase),
    ).toBe(true);
  });
});
