import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudNetwork, METADATA_ADDRESS, type CloudNetwork } from './harness/netns.ts';
import { startService, type AuditRecord, type Service } from './harness/service.ts';
import { isRunning, sleep, stopProcess, trackProcess } from './harness/reaper.ts';
import { assertBinaryBuilt, HELPER_BINARY } from '../helpers/helper-binary.ts';
import { awsDocument, makeTestCa, signDocument, type TestCa } from '../helpers/enrollment-evidence.ts';

const ACCOUNT = '123456789012';
const REGISTRY = 'registry.enroll.test';
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'enrollment', 'metadata-server.mjs');

// Issue 20: a network namespace is the VM. Its 169.254.169.254 is a stand-in metadata service
// (a fixture) serving evidence signed by a CA the test made; the service trusts that CA only
// through the documented setting (aws.additionalTrustAnchors). The built binary enrolls from
// inside the namespace, as it would at boot.
describe('e2e: enrollment by AWS identity', () => {
  let dir: string;
  let net: CloudNetwork | undefined;
  let service: Service | undefined;
  let fixturePid: number | undefined;
  let ca: TestCa;
  let evidenceFile: string;
  let tlsCert: string;

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('e2e enrollment: network namespaces need root; run the e2e stage as root (CI does)');
    assertBinaryBuilt();
    dir = await mkdtemp(join(tmpdir(), 'dcd-enroll-aws-'));
    ca = await makeTestCa(dir);
    net = await createCloudNetwork(2);
    evidenceFile = join(dir, 'evidence.json');
    await writeFile(evidenceFile, '{}');
    fixturePid = await startFixture(net, evidenceFile, join(dir, 'fixture.log'));
    // The service answers the VMs over TLS (the helper sends tokens in clear only to loopback).
    tlsCert = join(dir, 'service-cert.pem');
    await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${METADATA_ADDRESS}`, '-addext', `subjectAltName=IP:${METADATA_ADDRESS}`, '-keyout', join(dir, 'service-key.pem'), '-out', tlsCert]);
    const enrollmentConfig = join(dir, 'enrollment.json');
    await writeFile(enrollmentConfig, JSON.stringify({ aws: { accounts: [{ accountId: ACCOUNT, project: 'gpu' }], pendingTimeWindow: '15m', additionalTrustAnchors: ca.certFile } }));
    service = await startService({
      dir: join(dir, 'service'),
      listen: `${METADATA_ADDRESS}:8480`,
      wrap: ['ip', 'netns', 'exec', net.cloud],
      env: {
        DSTACK_REGISTRY_AUTH_TLS_CERT: tlsCert,
        DSTACK_REGISTRY_AUTH_TLS_KEY: join(dir, 'service-key.pem'),
        DSTACK_REGISTRY_AUTH_ENROLLMENT_CONFIG: enrollmentConfig,
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: REGISTRY,
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'puller',
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: 'pull-password-0123',
      },
    });
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
    if (fixturePid !== undefined) await stopProcess(fixturePid, 2_000);
    await net?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function serve(document: string, rsa2048: string): Promise<void> {
    await writeFile(evidenceFile, JSON.stringify({ aws: { document, rsa2048 } }));
  }

  async function evidenceFor(instanceId: string, options: { accountId?: string; pendingTime?: Date; signer?: TestCa } = {}) {
    const document = awsDocument({ accountId: options.accountId ?? ACCOUNT, instanceId, region: 'eu-west-1', pendingTime: options.pendingTime ?? new Date(Date.now() - 30_000) });
    return { document, rsa2048: await signDocument(options.signer ?? ca, document, dir) };
  }

  function enroll(vm: string, tokenFile: string) {
    return execa('ip', ['netns', 'exec', vm, HELPER_BINARY, 'enroll', '--cloud', 'aws'], {
      env: { PATH: '/usr/bin:/bin', DOCKER_CREDENTIAL_DSTACK_SERVER: service!.url, DOCKER_CREDENTIAL_DSTACK_CA_FILE: tlsCert, DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: tokenFile, DOCKER_CREDENTIAL_DSTACK_CONFIG: join(dir, 'helper-config.json'), DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: join(dir, `cache-${vm}`) },
      extendEnv: false,
      reject: false,
      cwd: dir,
    });
  }

  async function enrollments(): Promise<AuditRecord[]> {
    return (await service!.audit()).filter((r) => r.event === 'enrolled');
  }

  it('enrolls a VM with no token, writes the token 0600, and the token serves a credential', async () => {
    await writeFile(join(dir, 'helper-config.json'), '{}\n');
    const evidence = await evidenceFor('i-0a1b2c3d4e5f60001');
    await serve(evidence.document, evidence.rsa2048);
    const tokenFile = join(dir, 'vm1', 'token');
    const result = await enroll(net!.vms[0]!, tokenFile);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^enrolled as aws:${ACCOUNT}:i-0a1b2c3d4e5f60001 \\(project gpu\\); instance token written to ${tokenFile}`));
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    const token = (await readFile(tokenFile, 'utf8')).trim();
    expect(result.stdout + result.stderr).not.toContain(token);
    expect((await enrollments()).at(-1)).toMatchObject({ event: 'enrolled', outcome: 'granted', instance: `aws:${ACCOUNT}:i-0a1b2c3d4e5f60001`, project: 'gpu', source: 'aws' });

    // An ordinary instance token: the helper, in the VM, gets the registry's credential with it.
    const get = await execa('ip', ['netns', 'exec', net!.vms[0]!, HELPER_BINARY, 'get'], {
      input: `${REGISTRY}\n`,
      env: { DOCKER_CREDENTIAL_DSTACK_SERVER: service!.url, DOCKER_CREDENTIAL_DSTACK_CA_FILE: tlsCert, DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: tokenFile, DOCKER_CREDENTIAL_DSTACK_CONFIG: join(dir, 'helper-config.json'), DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: join(dir, 'cache-get') },
      extendEnv: false,
      reject: false,
    });
    expect(get.exitCode, get.stderr).toBe(0);
    expect(JSON.parse(get.stdout)).toMatchObject({ ServerURL: REGISTRY, Username: 'puller', Secret: 'pull-password-0123' });

    // Holding a token, the host never trades evidence again.
    const again = await enroll(net!.vms[0]!, tokenFile);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('already enrolled');
    expect((await readFile(tokenFile, 'utf8')).trim()).toBe(token);
  });

  it('refuses the same evidence from another VM, with one line, and audits it', async () => {
    const tokenFile = join(dir, 'vm2-replay', 'token');
    const result = await enroll(net!.vms[1]!, tokenFile);
    expectRefusal(result, /instance aws:123456789012:i-0a1b2c3d4e5f60001 has enrolled before/);
    await expect(stat(tokenFile)).rejects.toThrow();
    expect((await enrollments()).at(-1)).toMatchObject({ outcome: 'denied', reason: 'already_enrolled', instance: `aws:${ACCOUNT}:i-0a1b2c3d4e5f60001` });
  });

  it('refuses a forged document beside a genuine signature', async () => {
    const evidence = await evidenceFor('i-0a1b2c3d4e5f60002');
    await serve(evidence.document.replace('"t3.medium"', '"p5.48xlarge"'), evidence.rsa2048);
    expectRefusal(await enroll(net!.vms[1]!, join(dir, 'vm2-forged', 'token')), /the document differs from the content AWS signed/);
    expect((await enrollments()).at(-1)).toMatchObject({ outcome: 'denied', reason: 'document_mismatch' });
  });

  it('refuses an account that is not allowed, a stale launch, and a signer that is not trusted', async () => {
    const cases: Array<[Awaited<ReturnType<typeof evidenceFor>>, RegExp, string]> = [
      [await evidenceFor('i-0a1b2c3d4e5f60003', { accountId: '999999999999' }), /AWS account 999999999999 is not allowed/, 'account_not_allowed'],
      [await evidenceFor('i-0a1b2c3d4e5f60004', { pendingTime: new Date(Date.now() - 2 * 3600_000) }), /outside the enrollment window/, 'evidence_stale'],
      [await evidenceFor('i-0a1b2c3d4e5f60005', { signer: await makeTestCa(dir, 'attacker-ca') }), /not signed by AWS's certificate for region eu-west-1/, 'signature_invalid'],
    ];
    for (const [evidence, message, reason] of cases) {
      await serve(evidence.document, evidence.rsa2048);
      expectRefusal(await enroll(net!.vms[1]!, join(dir, `vm2-${reason}`, 'token')), message);
      expect((await enrollments()).at(-1)).toMatchObject({ outcome: 'denied', reason, source: 'aws' });
    }
  });
});

function expectRefusal(result: { exitCode?: number; stdout: string; stderr: string }, message: RegExp): void {
  expect(result.exitCode, result.stderr).toBe(1);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^docker-credential-dstack enroll: dstack server https:\/\/169\.254\.169\.254:8480 refused the enrollment \(HTTP 403\): enrollment refused: /);
  expect(lines[0]).toMatch(message);
}

async function startFixture(net: CloudNetwork, evidenceFile: string, logFile: string): Promise<number> {
  const [file, ...args] = net.inNamespace(net.cloud, [process.execPath, FIXTURE, METADATA_ADDRESS, '80', evidenceFile]);
  const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid!;
  trackProcess(pid, 'metadata fixture');
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (!output.includes('listening')) {
    if (!isRunning(pid) || Date.now() > deadline) {
      await writeFile(logFile, output);
      throw new Error(`metadata fixture did not start: ${output}`);
    }
    await sleep(20);
  }
  return pid;
}
