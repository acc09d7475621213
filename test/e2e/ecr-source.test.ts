import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudStack, type CloudStack } from './harness/cloud-stack.ts';
import { docker, describeResult, inspectImage, QUIET } from './harness/docker-cli.ts';
import { describePull, engineImageInspect, engineImagePull } from './harness/engine-api.ts';
import { lineMatching, markLog } from './harness/log-match.ts';
import { credentialGrants } from './harness/service.ts';
import { DOCKERD_FALLBACK } from './harness/engine-matrix.ts';
import { ecrServiceEnv, startEcrStandIn, type EcrStandIn } from '../fixtures/cloud/ecr-stand-in.ts';

// The ecr source end to end, on the host's dockerd only (the engines' part is the same as for
// every other source, and the matrix runs that elsewhere). The built service mints
// AWS:<token> with the AWS SDK at the ECR stand-in, which checks the SigV4 signature for the
// service's key and region; the registry behind it takes exactly that credential. The registry
// plays an ECR pull-through cache for Docker Hub: python:3.14 lives at
// docker-hub/library/python, and the mirror endpoint's upstream carries that path prefix.
const ACCOUNT = '123456789012';
const REGION = 'us-west-2';
const PREFIX = 'docker-hub';
// Registries whose account AWS refuses in one way each; asked for with `get` only.
const FAILING = [
  { account: '111111111111', status: 400, type: 'InvalidParameterException', line: /AWS answered HTTP 400 InvalidParameterException; check account \d{12} and region [a-z0-9-]+$/, outcome: 'bad_request' },
  { account: '222222222222', status: 403, type: 'AccessDeniedException', line: /AWS answered HTTP 403 AccessDeniedException; grant the server's identity ecr:GetAuthorizationToken$/, outcome: 'denied' },
  { account: '333333333333', status: 429, type: 'ThrottlingException', line: /AWS answered HTTP 429 ThrottlingException: throttled; retry shortly$/, outcome: 'throttled' },
  { account: '444444444444', status: 500, type: 'ServerException', line: /AWS answered HTTP 500 ServerException; retry later$/, outcome: 'vendor_error' },
];
const failingKey = (account: string) => `${account}.dkr.ecr.${REGION}.amazonaws.com`;

describe('e2e: the ecr source (ECR stand-in checking SigV4, htpasswd registry), on the host’s dockerd', () => {
  let stack: CloudStack;
  let ecr: EcrStandIn;
  const outputs: string[] = [];
  beforeAll(async () => {
    stack = await startCloudStack({
      username: 'AWS',
      images: ['app:1', `${PREFIX}/library/python:3.14`],
      endpointArgs: (registry) => ['--upstream', `${registry.url}/${PREFIX}`],
      vendor: async (password) => {
        ecr = await startEcrStandIn({ region: REGION, account: ACCOUNT, password });
        for (const failing of FAILING) ecr.failures[failing.account] = { status: failing.status, type: failing.type };
        return {
          serviceEnv: ecrServiceEnv(ecr),
          // A test registry under another name than ECR's: account and region are given.
          entries: (registry) => [
            { registry: registry.host, source: 'ecr', account: ACCOUNT, region: REGION },
            ...FAILING.map(({ account }) => ({ registry: failingKey(account), source: 'ecr' })),
          ],
          secrets: [ecr.key.secretAccessKey],
          close: () => ecr.close(),
        };
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('docker pull through the helper: the registry name and the pull-through cache name, as AWS', async () => {
    for (const ref of [`${stack.registry.host}/app:1`, `${stack.registry.host}/${PREFIX}/library/python:3.14`]) {
      const pull = await docker(stack.dockerd, stack.host, ['pull', ref]);
      outputs.push(String(pull.stdout), String(pull.stderr));
      expect(pull.exitCode, describeResult(pull)).toBe(0);
      const seeded = stack.images.get(ref.slice(stack.registry.host.length + 1))!;
      expect(await inspectImage(stack.dockerd, stack.host, ref)).toEqual({ id: seeded.configDigest, seed: seeded.repository + ':' + seeded.tag });
    }
    const registryLog = await stack.registry.log();
    expect(lineMatching(registryLog, /msg=GetImageManifest auth\.user\.name="?AWS"? .*uri=\/v2\/app\/manifests\/1/), 'app:1 as AWS').toBeDefined();
    expect(lineMatching(registryLog, /authentication failure/), 'no failed login').toBeUndefined();
    // One mint for both pulls, signed as the stand-in requires.
    expect(ecr.mints).toBe(1);
    expect(ecr.rejected).toEqual([]);
    const grants = credentialGrants(await stack.service.audit());
    expect(grants.length).toBeGreaterThanOrEqual(1);
    expect(grants.every((g) => g.source === 'ecr' && g.instance === stack.instance)).toBe(true);
  });

  it("the shim's Engine API pull of python:3.14 goes through the endpoint to the pull-through cache prefix", async () => {
    const sinceDockerd = await markLog(() => readFile(stack.dockerd.logPath, 'utf8'));
    const pull = await engineImagePull(stack.dockerd, 'python', '3.14');
    expect(pull.status, describePull(pull)).toBe(200);
    expect(pull.error, describePull(pull)).toBeUndefined();
    const inspect = await engineImageInspect(stack.dockerd, 'python:3.14');
    expect(inspect.image?.Config?.Labels?.['e2e.seed']).toBe(`${PREFIX}/library/python:3.14`);
    const registryLog = await stack.registry.log();
    expect(lineMatching(registryLog, new RegExp(`msg=GetImageManifest auth\\.user\\.name="?AWS"? .*uri=/v2/${PREFIX}/library/python/manifests/3\\.14`)), registryLog).toBeDefined();
    expect(lineMatching(await stack.endpoint.log(), new RegExp(`pull .*repository=library/python .*upstream_repository=${PREFIX}/library/python .*status=200`))).toBeDefined();
    expect(lineMatching(await sinceDockerd(), DOCKERD_FALLBACK), 'no fallback to Docker Hub').toBeUndefined();
    expect(ecr.mints, 'the service still serves the first mint').toBe(1);
  });

  it.each(FAILING)('AWS answering $status $type: the helper prints one readable line, the service counts $outcome', async ({ account, line, outcome }) => {
    // As docker runs it: no debug output (the harness turns it on elsewhere).
    const got = await stack.host.run(['get'], { input: failingKey(account), env: QUIET });
    expect(got.exitCode).not.toBe(0);
    // One line on stdout (what docker shows), the same as a warning on stderr.
    const printed = String(got.stdout).trim();
    outputs.push(printed, String(got.stderr));
    expect(printed.split('\n'), printed).toHaveLength(1);
    expect(String(got.stderr).trim().split('\n'), String(got.stderr)).toHaveLength(1);
    expect(printed).toMatch(line);
    expect(printed).not.toContain('…');
    expect(printed).toContain(`registry ${failingKey(account)} (source ecr)`);
    expect(printed).not.toMatch(/fixture:|\n\s+at /);
    const metrics = await (await fetch(`${stack.service.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^dstack_registry_auth_cloud_token_requests_total\\{outcome="${outcome}",registry="${failingKey(account).replace(/\./g, '\\.')}",source="ecr"\\} [1-9]`, 'm'));
  });

  it('the AWS secret key is nowhere on the host: files, logs, answers, engine', async () => {
    const places: Record<string, string> = {
      'host files (settings, token, cache, helper log)': await readTree(join(stack.dir, 'host')),
      'mirror endpoint log': await stack.endpoint.log(),
      'dockerd log': await readFile(stack.dockerd.logPath, 'utf8'),
      'engine state': await readTree(join(stack.dir, 'd')),
      'helper and docker output': outputs.join('\n'),
      'docker info': String((await docker(stack.dockerd, stack.host, ['info', '--format', '{{json .}}'])).stdout),
    };
    for (const [where, text] of Object.entries(places)) {
      expect(text.length, `${where} was read`).toBeGreaterThan(0);
      for (const secret of [...stack.vendor.secrets, ecr.key.accessKeyId]) expect(text.includes(secret), `an AWS key in ${where}`).toBe(false);
    }
    // What the host does hold is the minted registry password, in its cache.
    expect(places['host files (settings, token, cache, helper log)']).toContain(stack.account.password);
  });
});

async function readTree(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    parts.push(await readFile(join(entry.parentPath, entry.name), 'utf8').catch(() => ''));
  }
  return parts.join('\n');
}
