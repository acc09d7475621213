import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AZURE_SUBSCRIPTION,
  REGISTRY,
  startEnrollmentStack,
  type EnrollmentStack,
} from './harness/enrollment-stack.ts';
import { assertBinaryBuilt } from '../helpers/helper-binary.ts';
import { expectRefusal } from './harness/enrollment-refusal.ts';

// Issue 20, Azure: the VM namespace's metadata server (a fixture) signs attested documents
// for the nonce the host asks, with a leaf certificate of a PKI the test made (root →
// intermediate → leaf); the service trusts that root only as azure.additionalTrustAnchors.
describe('e2e: enrollment by Azure identity', () => {
  let stack: EnrollmentStack;

  beforeAll(async () => {
    assertBinaryBuilt();
    stack = await startEnrollmentStack(2);
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const enroll = (vm: string, tokenFile: string) => stack.enroll(vm, tokenFile, 'azure');
  const instance = (vmId: string) => `azure:${AZURE_SUBSCRIPTION}:${vmId}`;

  it('enrolls with a document signed for the nonce the service issued, once', async () => {
    const [vm1] = stack.net.vms as [string];
    const vmId = '11111111-2222-4333-8444-555555555501';
    await stack.serveAzure({ vmId });
    const tokenFile = join(stack.dir, 'vm1', 'token');
    const result = await enroll(vm1, tokenFile);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^enrolled as ${instance(vmId)} \\(project gpu\\)`));
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    expect((await stack.enrollments()).at(-1)).toMatchObject({
      outcome: 'granted',
      instance: instance(vmId),
      source: 'azure',
    });
    const get = await stack.helper(vm1, tokenFile, ['get'], `${REGISTRY}\n`);
    expect(get.exitCode, get.stderr).toBe(0);
    expect(JSON.parse(get.stdout)).toMatchObject({ Username: 'puller' });
    expectRefusal(await enroll(stack.net.vms[1]!, join(stack.dir, 'vm2-again', 'token')), /has enrolled before/);
    expect((await stack.enrollments()).at(-1)).toMatchObject({
      outcome: 'denied',
      reason: 'already_enrolled',
      instance: instance(vmId),
    });
  });

  it("refuses a document signed by an attacker's SAN, a stale nonce, and a subscription not allowed", async () => {
    await stack.serveAzure({ vmId: '11111111-2222-4333-8444-555555555502', signer: 'attacker' });
    expectRefusal(
      await enroll(stack.net.vms[1]!, join(stack.dir, 'vm2-san', 'token')),
      /the signing certificate is not for metadata\.azure\.com \(its SAN: DNS:metadata\.azure\.com\.attacker\.example\)/,
    );
    expect((await stack.enrollments()).at(-1)).toMatchObject({
      outcome: 'denied',
      reason: 'signer_invalid',
      source: 'azure',
    });

    await stack.serveAzure({ vmId: '11111111-2222-4333-8444-555555555503', nonce: '0123456789' });
    expectRefusal(
      await enroll(stack.net.vms[1]!, join(stack.dir, 'vm2-nonce', 'token')),
      /the nonce in the attested document is stale/,
    );
    expect((await stack.enrollments()).at(-1)).toMatchObject({ outcome: 'denied', reason: 'nonce_invalid' });

    await stack.serveAzure({
      vmId: '11111111-2222-4333-8444-555555555504',
      subscriptionId: '99999999-9999-4999-8999-999999999999',
    });
    expectRefusal(
      await enroll(stack.net.vms[1]!, join(stack.dir, 'vm2-sub', 'token')),
      /Azure subscription 99999999-9999-4999-8999-999999999999 is not allowed/,
    );
    expect((await stack.enrollments()).at(-1)).toMatchObject({ outcome: 'denied', reason: 'account_not_allowed' });
  });
});
