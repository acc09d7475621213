import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudStack, type CloudStack } from './harness/cloud-stack.ts';
import {
  expectEnginePullThroughPrefix,
  expectHelperPulls,
  expectNoCloudSecretOnHost,
  expectVendorRefusal,
} from './harness/cloud-checks.ts';
import { acrEntry, acrServiceEnv, startAcrStandIn, type AcrStandIn } from '../fixtures/cloud/acr-stand-in.ts';

// The acr source end to end, on the host's dockerd only. The built service's Azure identity
// library takes an Entra ID token from the managed identity endpoint of the stand-in, trades it
// at the stand-in's /oauth2/exchange for an ACR refresh token, and hands that out for the null
// GUID; the registry takes exactly that. The registry plays an ACR cache rule for Docker Hub
// (hub/library/python), a path prefix on the endpoint's upstream.
const PREFIX = 'hub';
const NULL_GUID = '00000000-0000-0000-0000-000000000000';
// One registry (and its own exchange) per failure: a refusal is held per registry for a few seconds.
const FAILURES = [
  {
    status: 400,
    line: /the registry's \/oauth2\/exchange answered HTTP 400: the exchange was refused; check the registry name and tenant$/,
    outcome: 'bad_request',
  },
  {
    status: 403,
    line: /the registry's \/oauth2\/exchange answered HTTP 403; grant the server's identity AcrPull on the registry$/,
    outcome: 'denied',
  },
  {
    status: 429,
    line: /the registry's \/oauth2\/exchange answered HTTP 429: throttled; retry shortly$/,
    outcome: 'throttled',
  },
  { status: 503, line: /the registry's \/oauth2\/exchange answered HTTP 503; retry later$/, outcome: 'vendor_error' },
];
const failingKey = (status: number) => `failing${status}.azurecr.io`;

describe('e2e: the acr source (managed identity and /oauth2/exchange stand-in, htpasswd registry), on the host’s dockerd', () => {
  let stack: CloudStack;
  let acr: AcrStandIn;
  const failing = new Map<number, AcrStandIn>();
  const outputs: string[] = [];
  beforeAll(async () => {
    stack = await startCloudStack({
      username: NULL_GUID,
      images: ['app:1', `${PREFIX}/library/python:3.14`],
      endpointArgs: (registry) => ['--upstream', `${registry.url}/${PREFIX}`],
      vendor: async () => {
        // The registry's name is its loopback address, known only once it runs: the stand-in
        // learns it from the config entry below.
        acr = await startAcrStandIn({ registry: 'pending' });
        for (const { status } of FAILURES) {
          const standIn = await startAcrStandIn({ registry: failingKey(status) });
          standIn.failWith = status;
          failing.set(status, standIn);
        }
        // The service has one managed identity: the main stand-in's. The failing registries'
        // exchanges accept its Entra token (they check the token it issued).
        return {
          serviceEnv: acrServiceEnv(acr),
          entries: (registry) => {
            acr.registry = registry.host;
            return [
              acrEntry(registry.host, acr),
              ...[...failing].map(([status, standIn]) => acrEntry(failingKey(status), standIn)),
            ];
          },
          secrets: [acr.identityHeader],
          password: acr.refreshToken,
          close: async () => {
            await acr.close();
            for (const standIn of failing.values()) await standIn.close();
          },
        };
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('docker pull through the helper, as the null GUID with the refresh token', async () => {
    await expectHelperPulls(stack, ['app:1', `${PREFIX}/library/python:3.14`], 'acr', outputs);
    expect([acr.entraTokens, acr.exchanges]).toEqual([1, 1]);
    expect(acr.rejected).toEqual([]);
  });

  it("the shim's Engine API pull of python:3.14 goes through the endpoint to the cache rule's prefix", async () => {
    await expectEnginePullThroughPrefix(stack, PREFIX);
  });

  it.each(FAILURES)(
    'the exchange answering $status: the helper prints one readable line, the service counts $outcome',
    async ({ status, line, outcome }) => {
      // The failing exchange must get as far as the failure: it accepts the one Entra token.
      failing.get(status)!.entraToken = acr.entraToken;
      await expectVendorRefusal(stack, { registry: failingKey(status), source: 'acr', line, outcome, outputs });
    },
  );

  it('the Entra ID token and the identity secret are nowhere on the host', async () => {
    await expectNoCloudSecretOnHost(stack, [...stack.vendor.secrets, acr.entraToken], outputs);
  });
});
