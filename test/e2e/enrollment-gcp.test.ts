import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GCP_PROJECT, REGISTRY, startEnrollmentStack, type EnrollmentStack } from './harness/enrollment-stack.ts';
import { assertBinaryBuilt } from '../helpers/helper-binary.ts';
import { expectRefusal } from './harness/enrollment-refusal.ts';

// Issue 20, GCP: the VM namespace's metadata server (a fixture) signs identity tokens with a
// key the test made, for the audience the host asks; the service trusts that key only as
// gcp.additionalTrustAnchors. The host asks the service for a nonce-bearing audience first.
describe('e2e: enrollment by GCP identity', () => {
  let stack: EnrollmentStack;

  beforeAll(async () => {
    assertBinaryBuilt();
    stack = await startEnrollmentStack(2);
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const enroll = (vm: string, tokenFile: string) => stack.enroll(vm, tokenFile, 'gcp');
  const instance = (id: string) => `gcp:${GCP_PROJECT}:${id}`;

  it('enrolls with a token for the audience the service issued, once', async () => {
    const [vm1] = stack.net.vms as [string];
    await stack.serveGcp({ instanceId: '7000000000000000001' });
    const tokenFile = join(stack.dir, 'vm1', 'token');
    const result = await enroll(vm1, tokenFile);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^enrolled as ${instance('7000000000000000001')} \\(project gpu\\)`));
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    expect((await stack.enrollments()).at(-1)).toMatchObject({
      outcome: 'granted',
      instance: instance('7000000000000000001'),
      source: 'gcp',
    });
    const get = await stack.helper(vm1, tokenFile, ['get'], `${REGISTRY}\n`);
    expect(get.exitCode, get.stderr).toBe(0);
    expect(JSON.parse(get.stdout)).toMatchObject({ Username: 'puller' });
    // The same instance from another VM, with a fresh nonce and a genuine token: the ledger refuses it.
    expectRefusal(await enroll(stack.net.vms[1]!, join(stack.dir, 'vm2-again', 'token')), /has enrolled before/);
    expect((await stack.enrollments()).at(-1)).toMatchObject({
      outcome: 'denied',
      reason: 'already_enrolled',
      instance: instance('7000000000000000001'),
    });
  });

  it('refuses a token for another audience, and one whose nonce was used already', async () => {
    await stack.serveGcp({
      instanceId: '7000000000000000002',
      audience: 'https://attacker.example/v1/enroll?nonce=abc',
    });
    expectRefusal(
      await enroll(stack.net.vms[1]!, join(stack.dir, 'vm2-aud', 'token')),
      /the identity token is for another audience/,
    );
    expect((await stack.enrollments()).at(-1)).toMatchObject({
      outcome: 'denied',
      reason: 'audience_mismatch',
      source: 'gcp',
    });

    // A nonce the service issued, used by a first enrollment: a second token naming it is stale.
    const issued = await execa('ip', [
      'netns',
      'exec',
      stack.net.vms[1]!,
      'curl',
      '-sS',
      '--cacert',
      stack.tlsCert,
      '-X',
      'POST',
      '-d',
      '{"cloud":"gcp"}',
      `${stack.service.url}/v1/enroll/nonce`,
    ]);
    const { audience } = JSON.parse(issued.stdout) as { audience: string };
    expect(audience).toMatch(/^https:\/\/169\.254\.169\.254:8480\/v1\/enroll\?nonce=[\w-]{32}$/);
    await stack.serveGcp({ instanceId: '7000000000000000003', audience });
    expect((await enroll(stack.net.vms[1]!, join(stack.dir, 'vm2-first', 'token'))).exitCode).toBe(0);
    await stack.serveGcp({ instanceId: '7000000000000000004', audience });
    expectRefusal(
      await enroll(stack.net.vms[1]!, join(stack.dir, 'vm2-stale', 'token')),
      /the nonce in the audience is stale/,
    );
    expect((await stack.enrollments()).at(-1)).toMatchObject({
      outcome: 'denied',
      reason: 'nonce_invalid',
      instance: instance('7000000000000000004'),
    });
  });

  it('refuses a project that is not allowed', async () => {
    await stack.serveGcp({ instanceId: '7000000000000000005', projectId: 'someone-elses-project' });
    expectRefusal(
      await enroll(stack.net.vms[1]!, join(stack.dir, 'vm2-project', 'token')),
      /GCP project someone-elses-project is not allowed/,
    );
    expect((await stack.enrollments()).at(-1)).toMatchObject({ outcome: 'denied', reason: 'account_not_allowed' });
    expect(await readFile(join(stack.dir, 'vm2-project', 'token')).catch(() => 'absent')).toBe('absent');
  });
});
