import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { SERVICE_BINARY, assertServiceBinaryBuilt } from '../../../helpers/service-process.ts';
import { ecrServiceEnv, startEcrStandIn, type EcrStandIn } from '../../../fixtures/cloud/ecr-stand-in.ts';
import { NO_IMDS } from '../../../fixtures/cloud/acr-stand-in.ts';

// `dstack-registry-auth check`, the built binary: one line per registry saying whether a
// credential can be minted now (the ECR SDK inside the single executable), and why not.
const ACCOUNT = '123456789012';
const DENIED = '222222222222';
const REGION = 'ap-south-1';

let dir: string;
let ecr: EcrStandIn;
let config: string;

const run = (args: string[], env: Record<string, string>) =>
  execa(SERVICE_BINARY, ['check', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DSTACK_REGISTRY_AUTH_CONFIG: config, ...env },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  });

describe('dstack-registry-auth check', () => {
  beforeAll(async () => {
    assertServiceBinaryBuilt();
    dir = await mkdtemp(join(tmpdir(), 'check-command-'));
    ecr = await startEcrStandIn({ region: REGION, account: ACCOUNT });
    ecr.failures[DENIED] = { status: 403, type: 'AccessDeniedException' };
    config = join(dir, 'config.json');
    await writeFile(
      config,
      JSON.stringify({
        registries: [
          { registry: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`, source: 'ecr' },
          { registry: `${DENIED}.dkr.ecr.${REGION}.amazonaws.com`, source: 'ecr' },
          { registry: 'registry.example', source: 'static', username: 'u', password: 'static-password-1234' },
        ],
      }),
    );
  });
  afterAll(async () => {
    await ecr?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('says per registry, in one line each, whether a credential can be minted now; exit 1 when one cannot', async () => {
    const result = await run([], ecrServiceEnv(ecr));
    const lines = String(result.stdout).trim().split('\n');
    expect(lines, String(result.stderr)).toHaveLength(3);
    expect(lines[0]).toMatch(
      new RegExp(
        `^ok +${ACCOUNT}\\.dkr\\.ecr\\.${REGION}\\.amazonaws\\.com \\(ecr\\): minted a credential for AWS, valid until \\S+ \\(12\\.0 h\\)$`,
      ),
    );
    expect(lines[1]).toMatch(
      new RegExp(
        `^FAIL +${DENIED}\\.dkr\\.ecr\\.${REGION}\\.amazonaws\\.com \\(ecr\\): AWS answered HTTP 403 AccessDeniedException; grant the server's identity ecr:GetAuthorizationToken$`,
      ),
    );
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
    expect(String(none.stdout).trim()).toMatch(
      /^FAIL +\S+ \(ecr\): no AWS credentials on the server; give it an identity allowed ecr:GetAuthorizationToken$/,
    );
    // gar without a key file and acr without an identity: Application Default Credentials and
    // the managed identity are looked for (on loopback only) and not found.
    const cloud = join(dir, 'cloud.json');
    await writeFile(
      cloud,
      JSON.stringify({
        registries: [
          { registry: 'us-docker.pkg.dev', source: 'gar' },
          { registry: 'fleet.azurecr.io', source: 'acr' },
        ],
      }),
    );
    const bare = await run([], {
      ...NO_IMDS,
      GCE_METADATA_HOST: '127.0.0.1:1',
      HOME: dir,
      DSTACK_REGISTRY_AUTH_CONFIG: cloud,
    });
    expect(bare.exitCode).toBe(1);
    const [gar, acr] = String(bare.stdout).trim().split('\n');
    expect(gar).toMatch(
      /^FAIL +us-docker\.pkg\.dev \(gar\): no Google credentials on the server: give it a service-account key file \(keyFile\) or run it with a service account$/,
    );
    expect(acr).toMatch(
      /^FAIL +fleet\.azurecr\.io \(acr\): no Entra ID identity on the server; set AZURE_CLIENT_ID with a secret or certificate, or use a managed identity$/,
    );
    const unknown = await run(['--registry', 'elsewhere.example'], ecrServiceEnv(ecr));
    expect(unknown.exitCode).toBe(2);
    expect(String(unknown.stderr)).toMatch(
      /^dstack-registry-auth check: registry elsewhere\.example is not configured for this service; check the name, or list it in DSTACK_REGISTRY_AUTH_CONFIG$/,
    );
  });
});
