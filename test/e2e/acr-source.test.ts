import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudStack, type CloudStack } from './harness/cloud-stack.ts';
import { docker, describeResult, inspectImage, QUIET } from './harness/docker-cli.ts';
import { describePull, engineImageInspect, engineImagePull } from './harness/engine-api.ts';
import { lineMatching, markLog } from './harness/log-match.ts';
import { credentialGrants } from './harness/service.ts';
import { DOCKERD_FALLBACK } from './harness/engine-matrix.ts';
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
  { status: 400, line: /the registry's \/oauth2\/exchange answered HTTP 400: the exchange was refused; check the registry name and tenant$/, outcome: 'bad_request' },
  { status: 403, line: /the registry's \/oauth2\/exchange answered HTTP 403; grant the server's identity AcrPull on the registry$/, outcome: 'denied' },
  { status: 429, line: /the registry's \/oauth2\/exchange answered HTTP 429: throttled; retry shortly$/, outcome: 'throttled' },
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
            return [acrEntry(registry.host, acr), ...[...failing].map(([status, standIn]) => acrEntry(failingKey(status), standIn))];
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
    for (const ref of [`${stack.registry.host}/app:1`, `${stack.registry.host}/${PREFIX}/library/python:3.14`]) {
      const pull = await docker(stack.dockerd, stack.host, ['pull', ref]);
      outputs.push(String(pull.stdout), String(pull.stderr));
      expect(pull.exitCode, describeResult(pull)).toBe(0);
      const seeded = stack.images.get(ref.slice(stack.registry.host.length + 1))!;
      expect(await inspectImage(stack.dockerd, stack.host, ref)).toEqual({ id: seeded.configDigest, seed: `${seeded.repository}:${seeded.tag}` });
    }
    expect(lineMatching(await stack.registry.log(), new RegExp(`msg=GetImageManifest auth\\.user\\.name="?${NULL_GUID}"? .*uri=/v2/app/manifests/1`))).toBeDefined();
    expect([acr.entraTokens, acr.exchanges]).toEqual([1, 1]);
    expect(acr.rejected).toEqual([]);
    expect(credentialGrants(await stack.service.audit()).every((g) => g.source === 'acr')).toBe(true);
  });

  it("the shim's Engine API pull of python:3.14 goes through the endpoint to the cache rule's prefix", async () => {
    const sinceDockerd = await markLog(() => readFile(stack.dockerd.logPath, 'utf8'));
    const pull = await engineImagePull(stack.dockerd, 'python', '3.14');
    expect(pull.status, describePull(pull)).toBe(200);
    expect(pull.error, describePull(pull)).toBeUndefined();
    expect((await engineImageInspect(stack.dockerd, 'python:3.14')).image?.Config?.Labels?.['e2e.seed']).toBe(`${PREFIX}/library/python:3.14`);
    expect(lineMatching(await stack.registry.log(), new RegExp(`msg=GetImageManifest auth\\.user\\.name="?${NULL_GUID}"? .*uri=/v2/${PREFIX}/library/python/manifests/3\\.14`))).toBeDefined();
    expect(lineMatching(await sinceDockerd(), DOCKERD_FALLBACK)).toBeUndefined();
  });

  it.each(FAILURES)('the exchange answering $status: the helper prints one readable line, the service counts $outcome', async ({ status, line, outcome }) => {
    // The failing exchange must get as far as the failure: it accepts the one Entra token.
    failing.get(status)!.entraToken = acr.entraToken;
    const key = failingKey(status);
    const got = await stack.host.run(['get'], { input: key, env: QUIET });
    expect(got.exitCode).not.toBe(0);
    const printed = String(got.stdout).trim();
    outputs.push(printed, String(got.stderr));
    expect(printed.split('\n'), printed).toHaveLength(1);
    expect(printed).toMatch(line);
    expect(printed).toContain(`registry ${key} (source acr)`);
    expect(printed).not.toMatch(/fixture:|…/);
    const metrics = await (await fetch(`${stack.service.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^dstack_registry_auth_cloud_token_requests_total\\{outcome="${outcome}",registry="${key.replace(/\./g, '\\.')}",source="acr"\\} [1-9]`, 'm'));
  });

  it('the Entra ID token and the identity secret are nowhere on the host', async () => {
    const places: Record<string, string> = {
      'host files': await readTree(join(stack.dir, 'host')),
      'mirror endpoint log': await stack.endpoint.log(),
      'dockerd log': await readFile(stack.dockerd.logPath, 'utf8'),
      'engine state': await readTree(join(stack.dir, 'd')),
      'helper and docker output': outputs.join('\n'),
    };
    for (const [where, text] of Object.entries(places)) {
      expect(text.length, `${where} was read`).toBeGreaterThan(0);
      for (const secret of [...stack.vendor.secrets, acr.entraToken]) expect(text.includes(secret), `an Azure secret in ${where}`).toBe(false);
    }
    expect(places['host files']).toContain(acr.refreshToken);
  });
});

async function readTree(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) parts.push(await readFile(join(entry.parentPath, entry.name), 'utf8').catch(() => ''));
  }
  return parts.join('\n');
}
