import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenStack, type TokenStack } from './harness/token-stack.ts';
import { docker, inspectImage, describeResult } from './harness/docker-cli.ts';
import { credentialGrants } from '../helpers/built-service.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeClock, type FakeClock } from '../helpers/fake-clock.ts';
import { TICKET_CLOCK_TOLERANCE_SECONDS } from '../../src/service/token/ticket.ts';
import { escapeRegExp } from '../helpers/escape-regexp.ts';

const TICKET_TTL_SECONDS = 30;
const HUB = 'https://index.docker.io/v1/';

// Scenario 4: tickets live seconds. A quick second pull is answered from the helper's cache; a
// pull once the ticket has expired fetches a fresh one; the realm refuses the old ticket after
// its expiry plus the verifier's tolerance, and not before. Expiry is not waited for: the built
// helper and the built service each run on a clock of their own (libfaketime, test/helpers/
// fake-clock.ts) that the test moves past the moment in question; every other step waits on
// the event it means (the helper's own verdict in its log and in `list`, the realm's answer).
describe('e2e: ticket expiry and the helper cache', () => {
  let stack: TokenStack;
  let clocks: string;
  let helperClock: FakeClock;
  let serviceClock: FakeClock;
  beforeAll(async () => {
    clocks = await mkdtemp(join(tmpdir(), 'ticket-clocks-'));
    helperClock = await fakeClock(clocks, 'helper');
    serviceClock = await fakeClock(clocks, 'service');
    stack = await startTokenStack({
      images: ['library/python:3.13', 'library/python:3.12'],
      serviceEnv: { DSTACK_REGISTRY_AUTH_TICKET_TTL: `${TICKET_TTL_SECONDS}s`, ...serviceClock.env },
    });
    // The docker CLI hands its environment to the helper it runs: the helper's clock rides on it.
    Object.assign(stack.host.env, helperClock.env);
  });
  afterAll(async () => {
    await stack?.stop();
    if (clocks) await rm(clocks, { recursive: true, force: true });
  });

  const grants = async () => credentialGrants(await stack.service.audit()).length;
  // The helper's cache verdicts for the Docker Hub key after `mark` characters of its log.
  const verdicts = async (mark: number) =>
    (await stack.host.debugLog())
      .slice(mark)
      .split('\n')
      .filter((line) => line.includes(`for ${HUB}`) && /cache (hit|miss)/.test(line));

  it('serves a quick second pull from the cache and refetches after expiry', async () => {
    let mark = (await stack.host.debugLog()).length;
    const first = await docker(stack.dockerd, stack.host, ['pull', 'python:3.14']);
    expect(first.exitCode, describeResult(first)).toBe(0);
    expect(await grants()).toBe(1);
    expect(await verdicts(mark)).toEqual([
      expect.stringMatching(
        new RegExp(`debug: cache miss for ${escapeRegExp(HUB)}: requesting ${escapeRegExp(stack.service.url)}$`),
      ),
    ]);
    const cached = await stack.host.run(['get'], { input: `${HUB}\n` });
    expect(cached.exitCode, describeResult(cached)).toBe(0);
    const oldTicket = JSON.parse(String(cached.stdout)) as { Username: string; Secret: string };
    const expiresAt = ticketExpiry(oldTicket.Secret);

    // The second pull: the helper decides from its own clock. While the ticket is fresh (half
    // its 30 s life: the normal case) it answers from the cache and the service is not asked; if
    // this machine stalled past the refresh point, it refreshes, and exactly one request shows.
    mark = (await stack.host.debugLog()).length;
    const second = await docker(stack.dockerd, stack.host, ['pull', 'python:3.13']);
    expect(second.exitCode, describeResult(second)).toBe(0);
    const [verdict, ...more] = await verdicts(mark);
    expect(more).toEqual([]);
    const refreshed = /cache miss .*\(cached entry past its refresh point\)$/.test(verdict ?? '');
    expect(verdict).toMatch(
      refreshed ? /debug: cache miss for / : new RegExp(`debug: cache hit for ${escapeRegExp(HUB)}$`),
    );
    expect(await grants()).toBe(refreshed ? 2 : 1);
    const grantsBeforeExpiry = await grants();

    // The helper's clock moved a second past the ticket's expiry: the helper itself now counts
    // it as expired (`list` names only unexpired entries), before that it did not.
    const listed = async () => HUB in JSON.parse(String((await stack.host.run(['list'])).stdout));
    expect(await listed()).toBe(true);
    await helperClock.set((expiresAt - Date.now()) / 1000 + 1);
    expect(await listed()).toBe(false);
    mark = (await stack.host.debugLog()).length;
    const third = await docker(stack.dockerd, stack.host, ['pull', 'python:3.12']);
    expect(third.exitCode, describeResult(third)).toBe(0);
    expect((await inspectImage(stack.dockerd, stack.host, 'python:3.12'))?.seed).toBe('library/python:3.12');
    expect(await verdicts(mark)).toEqual([
      expect.stringMatching(
        new RegExp(`debug: cache miss for ${escapeRegExp(HUB)}: requesting ${escapeRegExp(stack.service.url)}$`),
      ),
    ]);
    expect(await grants()).toBe(grantsBeforeExpiry + 1);
    const thirdTicket = await stack.host.run(['get'], { input: `${HUB}\n` });
    expect(JSON.parse(String(thirdTicket.stdout)).Secret).not.toBe(oldTicket.Secret);

    // The realm (the service, on its own clock) takes the old ticket up to its expiry plus the
    // verifier's clock tolerance, and refuses it after: asked two seconds before and after.
    const realm = () =>
      fetch(
        `${stack.service.url}/v1/token?service=${encodeURIComponent(stack.registry.host)}&scope=repository:library/python:pull`,
        {
          headers: {
            authorization: `Basic ${Buffer.from(`${oldTicket.Username}:${oldTicket.Secret}`).toString('base64')}`,
          },
        },
      );
    const refusalPoint = expiresAt + TICKET_CLOCK_TOLERANCE_SECONDS * 1000;
    await serviceClock.set((refusalPoint - 2_000 - Date.now()) / 1000);
    expect((await realm()).status).toBe(200);
    await serviceClock.set((refusalPoint + 2_000 - Date.now()) / 1000);
    expect((await realm()).status).toBe(401);
    const audit = await stack.service.audit();
    expect(
      audit.some(
        (r) =>
          r.event === 'realm' &&
          r.outcome === 'denied' &&
          r.reason === 'ticket_expired' &&
          r.instance === stack.instance,
      ),
      JSON.stringify(audit),
    ).toBe(true);
  }, 60_000);
});

// A pull ticket's `exp` (ms), from its payload: the test reads it rather than assuming when it was minted.
function ticketExpiry(ticket: string): number {
  const payload = JSON.parse(Buffer.from(ticket.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number };
  return payload.exp * 1000;
}
