import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenStack, type TokenStack } from './harness/token-stack.ts';
import { docker, inspectImage, describeResult } from './harness/docker-cli.ts';
import { credentialGrants } from '../helpers/built-service.ts';
import { cacheEvents } from './harness/helper-env.ts';

const PULLS = 10;
const images = Array.from({ length: PULLS }, (_, i) => `app-${i}:1`);

// Scenario 7: a compose-like burst, 10 concurrent `docker pull`s of different images from one
// registry, costs the service exactly one credential request (the helper's single-flight).
describe('e2e: fan-in of concurrent pulls', () => {
  let stack: TokenStack;
  beforeAll(async () => {
    stack = await startTokenStack({ images });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('10 concurrent pulls, one credential request', async () => {
    const refs = images.map((image) => `${stack.registry.host}/${image}`);
    const results = await Promise.all(refs.map((ref) => docker(stack.dockerd, stack.host, ['pull', ref])));
    results.forEach((result, i) => {
      expect(result.exitCode, `${refs[i]}: ${describeResult(result)}`).toBe(0);
    });
    for (const [i, ref] of refs.entries()) {
      expect((await inspectImage(stack.dockerd, stack.host, ref))?.seed).toBe(images[i]);
    }

    expect(credentialGrants(await stack.service.audit())).toHaveLength(1);
    const events = cacheEvents(await stack.host.debugLog());
    expect(events.hits + events.misses, 'every helper run logged where its answer came from').toBeGreaterThanOrEqual(
      PULLS,
    );
    // Each pull still got its own registry token from the realm with the shared ticket.
    const grants = (await stack.service.audit()).filter((r) => r.event === 'realm' && r.outcome === 'granted');
    for (const image of images) {
      expect(
        grants.some((r) => (r.scope ?? '').includes(`repository:${image.split(':')[0]}:pull`)),
        image,
      ).toBe(true);
    }
  });
});
