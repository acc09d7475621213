import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudStack, type CloudStack } from './harness/cloud-stack.ts';
import { docker } from './harness/docker-cli.ts';
import {
  expectEnginePullThroughPrefix,
  expectHelperPulls,
  expectNoCloudSecretOnHost,
  expectVendorRefusal,
} from './harness/cloud-checks.ts';
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
  {
    account: '111111111111',
    status: 400,
    type: 'InvalidParameterException',
    line: /AWS answered HTTP 400 InvalidParameterException; check account \d{12} and region [a-z0-9-]+$/,
    outcome: 'bad_request',
  },
  {
    account: '222222222222',
    status: 403,
    type: 'AccessDeniedException',
    line: /AWS answered HTTP 403 AccessDeniedException; grant the server's identity ecr:GetAuthorizationToken$/,
    outcome: 'denied',
  },
  {
    account: '333333333333',
    status: 429,
    type: 'ThrottlingException',
    line: /AWS answered HTTP 429 ThrottlingException: throttled; retry shortly$/,
    outcome: 'throttled',
  },
  {
    account: '444444444444',
    status: 500,
    type: 'ServerException',
    line: /AWS answered HTTP 500 ServerException; retry later$/,
    outcome: 'vendor_error',
  },
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
    await expectHelperPulls(stack, ['app:1', `${PREFIX}/library/python:3.14`], 'ecr', outputs);
    // One mint for both pulls, signed as the stand-in requires.
    expect(ecr.mints).toBe(1);
    expect(ecr.rejected).toEqual([]);
  });

  it("the shim's Engine API pull of python:3.14 goes through the endpoint to the pull-through cache prefix", async () => {
    await expectEnginePullThroughPrefix(stack, PREFIX);
    expect(ecr.mints, 'the service still serves the first mint').toBe(1);
  });

  it.each(FAILING)(
    'AWS answering $status $type: the helper prints one readable line, the service counts $outcome',
    async ({ account, line, outcome }) => {
      await expectVendorRefusal(stack, { registry: failingKey(account), source: 'ecr', line, outcome, outputs });
    },
  );

  it('the AWS keys are nowhere on the host: files, logs, answers, engine', async () => {
    const info = await docker(stack.dockerd, stack.host, ['info', '--format', '{{json .}}']);
    await expectNoCloudSecretOnHost(
      stack,
      [...stack.vendor.secrets, ecr.key.accessKeyId],
      [...outputs, String(info.stdout)],
    );
  });
});
