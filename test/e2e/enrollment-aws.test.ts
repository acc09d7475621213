import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, REGISTRY, startEnrollmentStack, type EnrollmentStack } from './harness/enrollment-stack.ts';
import { assertBinaryBuilt } from '../helpers/helper-binary.ts';
import { expectRefusal } from './harness/enrollment-refusal.ts';
import { makeTestCa } from '../helpers/enrollment-evidence.ts';

// Issue 20: a network namespace is the VM. Its 169.254.169.254 is a stand-in metadata service
// (a fixture) serving evidence signed by a CA the test made; the service trusts that CA only
// through the documented setting (aws.additionalTrustAnchors). The built binary enrolls from
// inside the namespace, as it would at boot.
describe('e2e: enrollment by AWS identity', () => {
  let stack: EnrollmentStack;

  beforeAll(async () => {
    assertBinaryBuilt();
    stack = await startEnrollmentStack(2);
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const enroll = (vm: string, tokenFile: string) => stack.enroll(vm, tokenFile, 'aws');

  it('enrolls a VM with no token, writes the token 0600, and the token serves a credential', async () => {
    const [vm1] = stack.net.vms as [string];
    await stack.serve(await stack.evidenceFor('i-0a1b2c3d4e5f60001'));
    const tokenFile = join(stack.dir, 'vm1', 'token');
    const result = await enroll(vm1, tokenFile);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(
        `^enrolled as aws:${ACCOUNT}:i-0a1b2c3d4e5f60001 \\(project gpu\\); instance token written to ${tokenFile}`,
      ),
    );
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    const token = (await readFile(tokenFile, 'utf8')).trim();
    expect(result.stdout + result.stderr).not.toContain(token);
    expect((await stack.enrollments()).at(-1)).toMatchObject({
      event: 'enrolled',
      outcome: 'granted',
      instance: `aws:${ACCOUNT}:i-0a1b2c3d4e5f60001`,
      project: 'gpu',
      source: 'aws',
    });
    expect(await stack.service.stderr()).not.toContain(token);

    // An ordinary instance token: the helper, in the VM, gets the registry's credential with it.
    const get = await stack.helper(vm1, tokenFile, ['get'], `${REGISTRY}\n`);
    expect(get.exitCode, get.stderr).toBe(0);
    expect(JSON.parse(get.stdout)).toMatchObject({
      ServerURL: REGISTRY,
      Username: 'puller',
      Secret: 'pull-password-0123',
    });

    // Holding a token, the host never trades evidence again.
    const granted = (await stack.enrollments()).length;
    const again = await enroll(vm1, tokenFile);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('already enrolled');
    expect((await readFile(tokenFile, 'utf8')).trim()).toBe(token);
    expect((await stack.enrollments()).length).toBe(granted);
  });

  it('an enrolled token is revoked like any other', async () => {
    await stack.service.revoke(`aws:${ACCOUNT}:i-0a1b2c3d4e5f60001`);
    // The other VM's cache is empty, so the helper asks the service with the revoked token.
    const get = await stack.helper(stack.net.vms[1]!, join(stack.dir, 'vm1', 'token'), ['get'], `${REGISTRY}\n`);
    expect(get.exitCode).not.toBe(0);
    expect(get.stderr + get.stdout).toMatch(/instance token revoked/);
  });

  it('refuses the same evidence from another VM, with one line, and audits it', async () => {
    const tokenFile = join(stack.dir, 'vm2-replay', 'token');
    const result = await enroll(stack.net.vms[1]!, tokenFile);
    expectRefusal(result, /instance aws:123456789012:i-0a1b2c3d4e5f60001 has enrolled before/);
    await expect(stat(tokenFile)).rejects.toThrow();
    expect((await stack.enrollments()).at(-1)).toMatchObject({
      outcome: 'denied',
      reason: 'already_enrolled',
      instance: `aws:${ACCOUNT}:i-0a1b2c3d4e5f60001`,
    });
  });

  it('refuses a forged document beside a genuine signature', async () => {
    const evidence = await stack.evidenceFor('i-0a1b2c3d4e5f60002');
    await stack.serve({
      document: evidence.document.replace('"t3.medium"', '"p5.48xlarge"'),
      rsa2048: evidence.rsa2048,
    });
    expectRefusal(
      await enroll(stack.net.vms[1]!, join(stack.dir, 'vm2-forged', 'token')),
      /the document differs from the content AWS signed/,
    );
    expect((await stack.enrollments()).at(-1)).toMatchObject({ outcome: 'denied', reason: 'document_mismatch' });
  });

  it('refuses an account that is not allowed, a stale launch, and a signer that is not trusted', async () => {
    await mkdir(join(stack.dir, 'attacker'), { recursive: true });
    const cases: Array<[{ document: string; rsa2048: string }, RegExp, string]> = [
      [
        await stack.evidenceFor('i-0a1b2c3d4e5f60003', { accountId: '999999999999' }),
        /AWS account 999999999999 is not allowed/,
        'account_not_allowed',
      ],
      [
        await stack.evidenceFor('i-0a1b2c3d4e5f60004', { pendingTime: new Date(Date.now() - 2 * 3600_000) }),
        /outside the enrollment window/,
        'evidence_stale',
      ],
      [
        await stack.evidenceFor('i-0a1b2c3d4e5f60005', {
          signer: await makeTestCa(join(stack.dir, 'attacker'), 'attacker-ca'),
        }),
        /not signed by AWS's certificate for region eu-west-1/,
        'signature_invalid',
      ],
    ];
    for (const [evidence, message, reason] of cases) {
      await stack.serve(evidence);
      expectRefusal(await enroll(stack.net.vms[1]!, join(stack.dir, `vm2-${reason}`, 'token')), message);
      expect((await stack.enrollments()).at(-1)).toMatchObject({ outcome: 'denied', reason, source: 'aws' });
    }
  });
});
