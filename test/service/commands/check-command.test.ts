import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { SERVICE_BINARY, assertServiceBinaryBuilt } from '../http/service-process.ts';
import { ecrServiceEnv, startEcrStandIn, type EcrStandIn } from '../../fixtures/cloud/ecr-stand-in.ts';

// `dstack-registry-auth check`, the built binary: one line per registry saying whether a
// credential can be minted now (the ECR SDK inside the single executable), and why not.
const ACCOUNT = '123456789012';
const DENIED = '222222222222';
const REGION = 'ap-south-1';

let dir: string;
let ecr: EcrStandIn;
let config: string;

const run = (args: string[], env: Record<string, string>) =>
  execa(SERVICE_BINARY, ['check', ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DSTACK_REGISTRY_AUTH_CONFIG: config, ...env }, extendEnv: false, reject: false, stdin: 'ignore' });

describe('dstack-registry-auth check', () => {
  beforeAll(async () => {
    assertServiceBinaryBuilt();
    dir = await mkdtemp(join(tmpdir(), 'check-command-'));
    ecr = await startEcrStandIn({ region: REGION, account: ACCOUNT });
    ecr.failures[DENIED] = { status: 403, type: 'AccessDeniedException' };
    config = join(dir, 'config.json');
    await writeFile(config, JSON.stringify({
      registries: [
        { registry: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`, source: 'ecr' },
        { registry: `${DENIED}.dkr.ecr.${REGION}.amazonaws.com`, source: 'ecr' },
        { registry: 'registry.example', source: 'static', username: 'u', password: 'static-password-1234' },
      ],
    }));
  });
  afterAll(async () => {
    await ecr?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('says per registry, in one line each, whether a credential can be minted now; exit 1 when one cannot', async () => {
    const result = await run([], ecrServiceEnv(ecr));
    const lines = String(result.stdout).trim().split('\n');
    expect(lines, String(result.stderr)).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^ok +${ACCOUNT}\\.dkr\\.ecr\\.${REGION}\\.amazonaws\\.com \\(ecr\\): minted a credential for AWS, valid until \\S+ \\(12\\.0 h\\)$`));
    expect(lines[1]).toMatch(new RegExp(`^FAIL +${DENIED}\\.dkr\\.ecr\\.${REGION}\\.amazonaws\\.com \\(ecr\\): AWS answered HTTP 403 AccessDeniedException; grant the server's identity ecr:GetAuthorizationToken$`));
    expect(lines[2]).toMatch(/^ok +registry\.example \(static\): hands out the configured password$/);
    expect(result.exitCode).toBe(1);
    expect(`${result.stdout}${result.stderr}`).not.toContain(ecr.key.secretAccessKey);
    expect(`${result.stdout}${result.stderr}`).not.toContain(ecr.password);
  });

  it('--registry checks one; without AWS credentials the line says so', async () => {
    const ok = await run(['--registry', `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`], ecrServiceEnv(ecr));
    expect(ok.exitCode, String(ok.stdout)).toBe(0);
    expect(String(ok.stdout).trim().split('\n')).toHaveLength(1);
    const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _secret, ...noKeys } = ecrServiceEnv(ecr);
    const none = await run(['--registry', `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`], { ...noKeys, HOME: dir });
    expect(none.exitCode).toBe(1);
    expect(String(none.stdout).trim()).toMatch(/^FAIL +\S+ \(ecr\): no AWS credentials on the server; give it an identity allowed ecr:GetAuthorizationToken$/);
    const unknown = await run(['--registry', 'elsewhere.example'], ecrServiceEnv(ecr));
    expect(unknown.exitCode).toBe(2);
    expect(String(unknown.stderr)).toMatch(/^dstack-registry-auth check: registry elsewhere\.example is not configured for this service; check the name, or list it in DSTACK_REGISTRY_AUTH_CONFIG$/);
  });
});
