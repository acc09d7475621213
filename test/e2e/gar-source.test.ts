import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudStack, type CloudStack } from './harness/cloud-stack.ts';
import { docker, describeResult, inspectImage, QUIET } from './harness/docker-cli.ts';
import { describePull, engineImageInspect, engineImagePull } from './harness/engine-api.ts';
import { lineMatching, markLog } from './harness/log-match.ts';
import { credentialGrants } from './harness/service.ts';
import { DOCKERD_FALLBACK } from './harness/engine-matrix.ts';
import { garEntry, startGoogleTokenStandIn, type GoogleTokenStandIn } from '../fixtures/cloud/google-token-stand-in.ts';

// The gar source end to end, on the host's dockerd only. The built service's Google auth
// library signs the JWT bearer grant with the service-account key it holds; the token endpoint
// stand-in checks it against the account's public key and mints the access token the registry
// accepts for oauth2accesstoken. The registry plays an Artifact Registry remote repository for
// Docker Hub (<project>/<repository>/library/python), a path prefix on the endpoint's upstream.
const PREFIX = 'fixture-project/dockerhub';
// One registry (and service account) per failure: the service holds a refusal for a few
// seconds (FAILURE_HOLD_MS), so one account could not answer each in turn.
const failingKey = (status: number) => `failing-${status}-docker.pkg.dev`;
const FAILURES = [
  { status: 400, error: 'invalid_request', line: /Google answered HTTP 400 invalid_request: Google refused the request; check the key file$/, outcome: 'bad_request' },
  { status: 403, error: 'access_denied', line: /Google answered HTTP 403 access_denied; grant the service account roles\/artifactregistry\.reader$/, outcome: 'denied' },
  { status: 429, error: 'rate_limit_exceeded', line: /Google answered HTTP 429 rate_limit_exceeded: throttled; retry shortly$/, outcome: 'throttled' },
  { status: 500, error: 'internal_failure', line: /Google answered HTTP 500 internal_failure; retry later$/, outcome: 'vendor_error' },
];

describe('e2e: the gar source (Google token stand-in checking the JWT grant, htpasswd registry), on the host’s dockerd', () => {
  let stack: CloudStack;
  let google: GoogleTokenStandIn;
  // Service accounts whose token endpoint answers with one failure each.
  const failing = new Map<number, GoogleTokenStandIn>();
  const outputs: string[] = [];
  beforeAll(async () => {
    stack = await startCloudStack({
      username: 'oauth2accesstoken',
      images: ['app:1', `${PREFIX}/library/python:3.14`],
      endpointArgs: (registry) => ['--upstream', `${registry.url}/${PREFIX}`],
      vendor: async (password) => {
        const { mkdtemp } = await import('node:fs/promises');
        const keys = await mkdtemp('/tmp/e2e-gar-keys-');
        google = await startGoogleTokenStandIn({ keyFile: join(keys, 'puller.json'), password });
        for (const { status, error } of FAILURES) {
          const standIn = await startGoogleTokenStandIn({ keyFile: join(keys, `failing-${status}.json`) });
          standIn.failWith = { status, error };
          failing.set(status, standIn);
        }
        return {
          serviceEnv: {},
          entries: (registry) => [garEntry(registry.host, google), ...[...failing].map(([status, standIn]) => garEntry(failingKey(status), standIn))],
          secrets: [google, ...failing.values()].map((standIn) => standIn.privateKeyPem.split('\n')[1]!),
          close: async () => {
            await google.close();
            for (const standIn of failing.values()) await standIn.close();
            const { rm } = await import('node:fs/promises');
            await rm(keys, { recursive: true, force: true });
          },
        };
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('docker pull through the helper, as oauth2accesstoken', async () => {
    for (const ref of [`${stack.registry.host}/app:1`, `${stack.registry.host}/${PREFIX}/library/python:3.14`]) {
      const pull = await docker(stack.dockerd, stack.host, ['pull', ref]);
      outputs.push(String(pull.stdout), String(pull.stderr));
      expect(pull.exitCode, describeResult(pull)).toBe(0);
      const seeded = stack.images.get(ref.slice(stack.registry.host.length + 1))!;
      expect(await inspectImage(stack.dockerd, stack.host, ref)).toEqual({ id: seeded.configDigest, seed: `${seeded.repository}:${seeded.tag}` });
    }
    const registryLog = await stack.registry.log();
    expect(lineMatching(registryLog, /msg=GetImageManifest auth\.user\.name="?oauth2accesstoken"? .*uri=\/v2\/app\/manifests\/1/)).toBeDefined();
    expect(lineMatching(registryLog, /authentication failure/)).toBeUndefined();
    expect(google.mints).toBe(1);
    expect(google.rejected).toEqual([]);
    expect(credentialGrants(await stack.service.audit()).every((g) => g.source === 'gar')).toBe(true);
  });

  it("the shim's Engine API pull of python:3.14 goes through the endpoint to the remote repository's prefix", async () => {
    const sinceDockerd = await markLog(() => readFile(stack.dockerd.logPath, 'utf8'));
    const pull = await engineImagePull(stack.dockerd, 'python', '3.14');
    expect(pull.status, describePull(pull)).toBe(200);
    expect(pull.error, describePull(pull)).toBeUndefined();
    expect((await engineImageInspect(stack.dockerd, 'python:3.14')).image?.Config?.Labels?.['e2e.seed']).toBe(`${PREFIX}/library/python:3.14`);
    expect(lineMatching(await stack.registry.log(), new RegExp(`msg=GetImageManifest auth\\.user\\.name="?oauth2accesstoken"? .*uri=/v2/${PREFIX}/library/python/manifests/3\\.14`))).toBeDefined();
    expect(lineMatching(await sinceDockerd(), DOCKERD_FALLBACK)).toBeUndefined();
  });

  it.each(FAILURES)('Google answering $status $error: the helper prints one readable line, the service counts $outcome', async ({ status, line, outcome }) => {
    const FAILING = failingKey(status);
    const got = await stack.host.run(['get'], { input: FAILING, env: QUIET });
    expect(got.exitCode).not.toBe(0);
    const printed = String(got.stdout).trim();
    outputs.push(printed, String(got.stderr));
    expect(printed.split('\n'), printed).toHaveLength(1);
    expect(printed).toMatch(line);
    expect(printed).toContain(`registry ${FAILING} (source gar)`);
    expect(printed).not.toMatch(/fixture:|…/);
    const metrics = await (await fetch(`${stack.service.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^dstack_registry_auth_cloud_token_requests_total\\{outcome="${outcome}",registry="${FAILING.replace(/\./g, '\\.')}",source="gar"\\} [1-9]`, 'm'));
  });

  it('the service-account key is nowhere on the host', async () => {
    const places: Record<string, string> = {
      'host files': await readTree(join(stack.dir, 'host')),
      'mirror endpoint log': await stack.endpoint.log(),
      'dockerd log': await readFile(stack.dockerd.logPath, 'utf8'),
      'engine state': await readTree(join(stack.dir, 'd')),
      'helper and docker output': outputs.join('\n'),
    };
    for (const [where, text] of Object.entries(places)) {
      expect(text.length, `${where} was read`).toBeGreaterThan(0);
      for (const secret of stack.vendor.secrets) expect(text.includes(secret), `the private key in ${where}`).toBe(false);
      expect(text.includes('BEGIN PRIVATE KEY'), `a private key in ${where}`).toBe(false);
    }
    expect(places['host files']).toContain(stack.account.password);
  });
});

async function readTree(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) parts.push(await readFile(join(entry.parentPath, entry.name), 'utf8').catch(() => ''));
  }
  return parts.join('\n');
}
