import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudStack, type CloudStack } from './harness/cloud-stack.ts';
import {
  expectEnginePullThroughPrefix,
  expectHelperPulls,
  expectNoCloudSecretOnHost,
  expectVendorRefusal,
} from './harness/cloud-checks.ts';
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
  {
    status: 400,
    error: 'invalid_request',
    line: /Google answered HTTP 400 invalid_request: Google refused the request; check the key file$/,
    outcome: 'bad_request',
  },
  {
    status: 403,
    error: 'access_denied',
    line: /Google answered HTTP 403 access_denied; grant the service account roles\/artifactregistry\.reader$/,
    outcome: 'denied',
  },
  {
    status: 429,
    error: 'rate_limit_exceeded',
    line: /Google answered HTTP 429 rate_limit_exceeded: throttled; retry shortly$/,
    outcome: 'throttled',
  },
  {
    status: 500,
    error: 'internal_failure',
    line: /Google answered HTTP 500 internal_failure; retry later$/,
    outcome: 'vendor_error',
  },
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
          entries: (registry) => [
            garEntry(registry.host, google),
            ...[...failing].map(([status, standIn]) => garEntry(failingKey(status), standIn)),
          ],
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
    await expectHelperPulls(stack, ['app:1', `${PREFIX}/library/python:3.14`], 'gar', outputs);
    expect(google.mints).toBe(1);
    expect(google.rejected).toEqual([]);
  });

  it("the shim's Engine API pull of python:3.14 goes through the endpoint to the remote repository's prefix", async () => {
    await expectEnginePullThroughPrefix(stack, PREFIX);
  });

  it.each(FAILURES)(
    'Google answering $status $error: the helper prints one readable line, the service counts $outcome',
    async ({ status, line, outcome }) => {
      await expectVendorRefusal(stack, { registry: failingKey(status), source: 'gar', line, outcome, outputs });
    },
  );

  it('the service-account key is nowhere on the host', async () => {
    await expectNoCloudSecretOnHost(stack, [...stack.vendor.secrets, 'BEGIN PRIVATE KEY'], outputs);
  });
});
