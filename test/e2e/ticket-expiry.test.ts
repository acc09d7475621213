import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenStack, type TokenStack } from './harness/token-stack.ts';
import { docker, inspectImage, describeResult } from './harness/docker-cli.ts';
import { credentialGrants } from './harness/service.ts';
import { cacheEvents } from './harness/helper-env.ts';
import { sleep } from './harness/reaper.ts';
import { TICKET_CLOCK_TOLERANCE_SECONDS } from '../../src/service/token/ticket.ts';

const TICKET_TTL_SECONDS = 10;

// Scenario 4: tickets live a few seconds. Two quick pulls share one ticket from the cache
// (the second makes no server request); a pull after the ticket expired fetches a fresh one.
describe('e2e: ticket expiry and the helper cache', () => {
  let stack: TokenStack;
  beforeAll(async () => {
    stack = await startTokenStack({
      images: ['library/python:3.13', 'library/python:3.12'],
      serviceEnv: { DSTACK_REGISTRY_AUTH_TICKET_TTL: `${TICKET_TTL_SECONDS}s` },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('serves the second quick pull from the cache and refetches after expiry', async () => {
    const firstAt = Date.now();
    const first = await docker(stack.dockerd, stack.host, ['pull', 'python:3.14']);
    expect(first.exitCode, describeResult(first)).toBe(0);
    expect(credentialGrants(await stack.service.audit())).toHaveLength(1);

    // Within half the ticket's life: the cached ticket is used, no request reaches the service.
    expect(Date.now() - firstAt, 'second pull must start within the ticket half-life').toBeLessThan((TICKET_TTL_SECONDS * 1000) / 2);
    const second = await docker(stack.dockerd, stack.host, ['pull', 'python:3.13']);
    expect(second.exitCode, describeResult(second)).toBe(0);
    expect(credentialGrants(await stack.service.audit())).toHaveLength(1);
    const afterTwo = cacheEvents(await stack.host.debugLog());
    expect(afterTwo.hits).toBeGreaterThanOrEqual(1);
    expect(afterTwo.misses).toBe(1);

    // The ticket handed out first: the next pull after its expiry must carry a fresh one.
    const cached = await stack.host.run(['get'], { input: 'https://index.docker.io/v1/\n' });
    expect(cached.exitCode, describeResult(cached)).toBe(0);
    const oldTicket = JSON.parse(String(cached.stdout)) as { Username: string; Secret: string };
    await sleep(firstAt + TICKET_TTL_SECONDS * 1000 + 1000 - Date.now());
    const third = await docker(stack.dockerd, stack.host, ['pull', 'python:3.12']);
    expect(third.exitCode, describeResult(third)).toBe(0);
    expect((await inspectImage(stack.dockerd, stack.host, 'python:3.12'))?.seed).toBe('library/python:3.12');
    expect(credentialGrants(await stack.service.audit())).toHaveLength(2);
    expect(cacheEvents(await stack.host.debugLog()).misses).toBe(2);
    const thirdTicket = await stack.host.run(['get'], { input: 'https://index.docker.io/v1/\n' });
    expect(JSON.parse(String(thirdTicket.stdout)).Secret).not.toBe(oldTicket.Secret);

    // And the old ticket no longer opens the realm once past its expiry (plus the verifier's
    // clock tolerance).
    await sleep(firstAt + (TICKET_TTL_SECONDS + TICKET_CLOCK_TOLERANCE_SECONDS) * 1000 + 1500 - Date.now());
    const realm = await fetch(`${stack.service.url}/v1/token?service=${encodeURIComponent(stack.registry.host)}&scope=repository:library/python:pull`, {
      headers: { authorization: `Basic ${Buffer.from(`${oldTicket.Username}:${oldTicket.Secret}`).toString('base64')}` },
    });
    expect(realm.status, await realm.clone().text()).toBe(401);
    const audit = await stack.service.audit();
    expect(audit.some((r) => r.event === 'realm' && r.outcome === 'denied' && /expired/i.test(r.reason ?? '')), JSON.stringify(audit)).toBe(true);
  });
});
