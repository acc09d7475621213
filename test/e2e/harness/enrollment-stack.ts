import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { createCloudNetwork, METADATA_ADDRESS, type CloudNetwork } from './netns.ts';
import { startService, type AuditRecord, type Service } from '../../helpers/built-service.ts';
import { isRunning, sleep, stopProcess, trackProcess } from '../../helpers/reaper.ts';
import { HELPER_BINARY } from '../../helpers/helper-binary.ts';
import { makeCertificate } from '../../helpers/tls-fixtures.ts';
import { awsDocument, makeAzurePki, makeTestCa, signDocument, type TestCa } from '../../helpers/enrollment-evidence.ts';

export const ACCOUNT = '123456789012';
export const REGISTRY = 'registry.enroll.test';
export const SERVICE_PORT = 8480;
export const GCP_PROJECT = 'dstack-gpu-fleet';
export const AZURE_SUBSCRIPTION = '0b1e3c5d-7f90-4a2b-8c4d-6e8f0a1b2c3d';
const FIXTURE = join(import.meta.dirname, '..', '..', 'fixtures', 'enrollment', 'metadata-server.mjs');

// A cloud of namespaces (netns.ts) with, in its cloud namespace, the stand-in metadata service
// on 169.254.169.254:80 (test/fixtures/enrollment/metadata-server.mjs, serving what `serve`
// wrote) and the built service over TLS on 169.254.169.254:8480, trusting the test CA only
// through aws.additionalTrustAnchors. A static default registry lets a token prove itself.
export interface EnrollmentStack {
  dir: string;
  net: CloudNetwork;
  service: Service;
  ca: TestCa;
  // The service's self-signed TLS certificate (the helper's caFile).
  tlsCert: string;
  serve(evidence: { document: string; rsa2048: string }): Promise<void>;
  // What the GCP identity endpoint signs: the instance's compute_engine claims, and an audience
  // to use instead of the one asked for (a token for another audience, a stale nonce).
  serveGcp(evidence: { instanceId: string; projectId?: string; audience?: string }): Promise<void>;
  // What the Azure attested-document endpoint signs, by which leaf (a SAN under
  // metadata.azure.com, or an attacker's), and a nonce to use instead of the one asked for.
  serveAzure(evidence: {
    vmId: string;
    subscriptionId?: string;
    signer?: 'genuine' | 'attacker';
    nonce?: string;
  }): Promise<void>;
  evidenceFor(
    instanceId: string,
    options?: { accountId?: string; pendingTime?: Date; signer?: TestCa },
  ): Promise<{ document: string; rsa2048: string }>;
  enrollments(): Promise<AuditRecord[]>;
  // The built helper in a VM namespace, with the service, its CA and this token file.
  helper(vm: string, tokenFile: string, args: string[], input?: string): Promise<HelperResult>;
  enroll(vm: string, tokenFile: string, cloud: 'aws' | 'gcp' | 'azure'): Promise<HelperResult>;
  stop(): Promise<void>;
}

export interface HelperResult {
  exitCode?: number;
  stdout: string;
  stderr: string;
}

export async function startEnrollmentStack(vmCount: number): Promise<EnrollmentStack> {
  if (process.getuid?.() !== 0)
    throw new Error('e2e enrollment: network namespaces need root; run the e2e stage as root (CI does)');
  const dir = await mkdtemp(join(tmpdir(), 'dcd-enroll-'));
  let net: CloudNetwork | undefined;
  let fixturePid: number | undefined;
  let service: Service | undefined;
  const stop = async () => {
    await service?.stop();
    if (fixturePid !== undefined) await stopProcess(fixturePid, 2_000);
    await net?.remove();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ca = await makeTestCa(dir);
    net = await createCloudNetwork(vmCount);
    const evidenceFile = join(dir, 'evidence.json');
    await writeFile(evidenceFile, '{}');
    fixturePid = await startFixture(net, evidenceFile);
    // The service answers the VMs over TLS (the helper sends tokens in clear only to loopback).
    const serviceTls = await makeCertificate(dir, { ip: METADATA_ADDRESS, name: 'service' });
    const tlsCert = serviceTls.certFile;
    // GCP: a key of the test's signs identity tokens; the service trusts it only as an additional
    // anchor, and "Google's" JWKS it is pointed at (the fixture's) is empty: nothing leaves the machine.
    const gcpKeys = await generateKeyPair('RS256', { extractable: true });
    const gcpPrivateJwk: JWK = { ...(await exportJWK(gcpKeys.privateKey)), kid: 'dstack-test-gcp', alg: 'RS256' };
    const gcpAnchors = join(dir, 'gcp-anchors.json');
    await writeFile(
      gcpAnchors,
      JSON.stringify({
        keys: [{ ...(await exportJWK(gcpKeys.publicKey)), kid: 'dstack-test-gcp', alg: 'RS256', use: 'sig' }],
      }),
    );
    // Azure: a root the service trusts only as azure.additionalTrustAnchors, an intermediate,
    // and two leaves under it: one for eastus.metadata.azure.com, one for an attacker's name.
    const azurePki = await makeAzurePki(dir);
    const azureLeaves = {
      genuine: await azurePki.leaf('azure-imds-genuine', 'eastus.metadata.azure.com'),
      attacker: await azurePki.leaf('azure-imds-attacker', 'metadata.azure.com.attacker.example'),
    };
    const enrollmentConfig = join(dir, 'enrollment.json');
    await writeFile(
      enrollmentConfig,
      JSON.stringify({
        aws: {
          accounts: [{ accountId: ACCOUNT, project: 'gpu' }],
          pendingTimeWindow: '15m',
          additionalTrustAnchors: ca.certFile,
        },
        gcp: {
          projects: [{ projectId: GCP_PROJECT, project: 'gpu' }],
          certificatesUrl: `http://${METADATA_ADDRESS}/oauth2/v3/certs`,
          additionalTrustAnchors: gcpAnchors,
        },
        azure: {
          subscriptions: [{ subscriptionId: AZURE_SUBSCRIPTION, project: 'gpu' }],
          additionalTrustAnchors: azurePki.root.certFile,
        },
      }),
    );
    const served: Record<string, unknown> = {};
    const write = () => writeFile(evidenceFile, JSON.stringify(served));
    service = await startService({
      dir: join(dir, 'service'),
      listen: `${METADATA_ADDRESS}:${SERVICE_PORT}`,
      wrap: ['ip', 'netns', 'exec', net.cloud],
      env: {
        DSTACK_REGISTRY_AUTH_TLS_CERT: tlsCert,
        DSTACK_REGISTRY_AUTH_TLS_KEY: serviceTls.keyFile,
        DSTACK_REGISTRY_AUTH_ENROLLMENT_CONFIG: enrollmentConfig,
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: REGISTRY,
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'puller',
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: 'pull-password-0123',
      },
    });
    const running = service;
    const helperConfig = join(dir, 'helper-config.json');
    await writeFile(helperConfig, '{}\n');
    const helper = (vm: string, tokenFile: string, args: string[], input?: string) =>
      execa('ip', ['netns', 'exec', vm, HELPER_BINARY, ...args], {
        env: {
          PATH: '/usr/bin:/bin',
          DOCKER_CREDENTIAL_DSTACK_SERVER: running.url,
          DOCKER_CREDENTIAL_DSTACK_CA_FILE: tlsCert,
          DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: tokenFile,
          DOCKER_CREDENTIAL_DSTACK_CONFIG: helperConfig,
          DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: join(dir, `cache-${vm}`),
        },
        extendEnv: false,
        reject: false,
        cwd: dir,
        ...(input !== undefined ? { input } : {}),
      }).then(
        (r): HelperResult => ({
          ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
          stdout: String(r.stdout),
          stderr: String(r.stderr),
        }),
      );
    return {
      dir,
      net,
      service: running,
      ca,
      tlsCert,
      serve: async (evidence) => {
        served.aws = evidence;
        await write();
      },
      serveGcp: async ({ instanceId, projectId, audience }) => {
        served.gcp = {
          privateJwk: gcpPrivateJwk,
          computeEngine: {
            project_id: projectId ?? GCP_PROJECT,
            project_number: 4242,
            zone: 'europe-west4-a',
            instance_id: instanceId,
            instance_name: 'runner',
            instance_creation_timestamp: Math.floor(Date.now() / 1000),
          },
          ...(audience !== undefined ? { audience } : {}),
        };
        await write();
      },
      evidenceFor: async (instanceId, options = {}) => {
        const document = awsDocument({
          accountId: options.accountId ?? ACCOUNT,
          instanceId,
          region: 'eu-west-1',
          pendingTime: options.pendingTime ?? new Date(Date.now() - 30_000),
        });
        return { document, rsa2048: await signDocument(options.signer ?? ca, document, dir) };
      },
      serveAzure: async ({ vmId, subscriptionId, signer, nonce }) => {
        const leaf = azureLeaves[signer ?? 'genuine'];
        served.azure = {
          signerCert: leaf.certFile,
          signerKey: leaf.keyFile,
          chain: azurePki.intermediate.certFile,
          subscriptionId: subscriptionId ?? AZURE_SUBSCRIPTION,
          vmId,
          ...(nonce !== undefined ? { nonce } : {}),
        };
        await write();
      },
      helper,
      enroll: (vm, tokenFile, cloud) => helper(vm, tokenFile, ['enroll', '--cloud', cloud]),
      enrollments: async () => (await running.audit()).filter((r) => r.event === 'enrolled'),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startFixture(net: CloudNetwork, evidenceFile: string): Promise<number> {
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
      await stopProcess(pid, 1_000);
      throw new Error(`metadata fixture did not start: ${output}`);
    }
    await sleep(20);
  }
  return pid;
}
