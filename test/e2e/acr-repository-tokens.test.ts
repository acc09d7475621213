import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createScaffold, type Scaffold } from './harness/stack-scaffold.ts';
import { startService, credentialGrants, type Service } from '../helpers/built-service.ts';
import { createHelperHost, type HelperHost } from './harness/helper-env.ts';
import { startDockerd, type Dockerd } from './harness/dockerd.ts';
import { describePull, engineImagePull, seedLabel } from './harness/engine-api.ts';
import { filesUnder } from './harness/host-files.ts';
import { startMirrorEndpoint, type MirrorEndpoint } from './harness/mirror-endpoint.ts';
import { realmHostOf, startBrokeredRegistry, type BrokeredRegistry } from '../helpers/brokered-registry.ts';
import { acrEntry, acrServiceEnv, startAcrStandIn, type AcrStandIn } from '../fixtures/cloud/acr-stand-in.ts';

// ACR with `tokens: repository`, end to end. The built service's Azure identity library takes an
// Entra ID token from the stand-in's managed identity endpoint and trades it at the stand-in's
// /oauth2/exchange for a refresh token, which never leaves the service: the stand-in's /v2/
// names a token realm (the token server fixture, taking the refresh token for the null GUID),
// where the service trades it for one repository's pull token. A real docker-registry trusts
// only that realm's tokens. A private dockerd pulls python:3.14 through the Engine API with no
// auth header, as dstack-shim does, via the host-local mirror endpoint.
const NULL_GUID = '00000000-0000-0000-0000-000000000000';
const INSTANCE = 'i-acr-repository';

let scaffold: Scaffold;
let upstream: BrokeredRegistry;
let acr: AcrStandIn;
let service: Service;
let host: HelperHost;
let endpoint: MirrorEndpoint;
let dockerd: Dockerd;
const users: Record<string, string> = {};

describe('e2e: acr with tokens: repository, the refresh token kept on the service, pulled through the mirror endpoint', () => {
  beforeAll(async () => {
    scaffold = await createScaffold();
    upstream = scaffold.track(
      await startBrokeredRegistry({
        dir: join(scaffold.dir, 'upstream'),
        images: ['library/python:3.14'],
        tokenServer: { users },
      }),
    );
    const key = upstream.registry.host;
    acr = await startAcrStandIn({
      registry: key,
      challenge: `Bearer realm="${upstream.tokenServer.realm}",service="fixture-registry"`,
    });
    scaffold.track({ stop: () => acr.close() });
    users[NULL_GUID] = acr.refreshToken;
    const config = join(scaffold.dir, 'registries.json');
    await writeFile(
      config,
      JSON.stringify({
        registries: [
          acrEntry(key, acr, {
            tokens: 'repository',
            mirror: upstream.registry.url,
            realms: [realmHostOf(upstream)],
          }),
        ],
      }),
    );
    service = scaffold.track(
      await startService({
        dir: join(scaffold.dir, 'svc'),
        env: { ...acrServiceEnv(acr), DSTACK_REGISTRY_AUTH_CONFIG: config, DSTACK_REGISTRY_AUTH_MIRROR_ENDPOINT: 'on' },
      }),
    );
    host = await createHelperHost({ dir: join(scaffold.dir, 'host'), server: service.url });
    await host.setToken(await service.issueToken({ instance: INSTANCE, project: 'main' }));
    endpoint = scaffold.track(await startMirrorEndpoint({ dir: join(scaffold.dir, 'host'), helper: host }));
    dockerd = scaffold.track(
      await startDockerd({ dir: join(scaffold.dir, 'd'), daemonJson: { 'registry-mirrors': [endpoint.url] } }),
    );
  });
  afterAll(async () => {
    await scaffold?.stop();
  });

  it('pulls python:3.14 via the Engine API with a pull token for library/python alone; the refresh token stays on the service', async () => {
    const pull = await engineImagePull(dockerd, 'python', '3.14');
    expect(pull.status, describePull(pull)).toBe(200);
    expect(pull.error, describePull(pull)).toBeUndefined();
    expect(await seedLabel(dockerd, 'python:3.14')).toBe('library/python:3.14');

    // The realm was asked by the service, for the null GUID, for pull on that one repository.
    expect(upstream.tokenServer.requests.map((r) => [r.user, r.scope, r.status])).toContainEqual([
      NULL_GUID,
      'repository:library/python:pull',
      200,
    ]);
    expect(upstream.tokenServer.requests.every((r) => r.scope === 'repository:library/python:pull')).toBe(true);
    expect(acr.exchanges).toBe(1);
    const grants = credentialGrants(await service.audit());
    expect(grants.length).toBeGreaterThan(0);
    expect(grants.every((g) => g.source === 'acr' && g.repository === 'library/python')).toBe(true);

    // Neither the refresh token nor the Entra token is anywhere on the host or in the engine.
    const texts: [string, string][] = [
      ...(await filesUnder(join(scaffold.dir, 'host'))),
      ...(await filesUnder(join(scaffold.dir, 'd'))),
      ['endpoint log', await endpoint.log()],
    ];
    expect(texts.some(([name]) => name.endsWith('helper.log'))).toBe(true);
    for (const [name, text] of texts) {
      expect(text.includes(acr.refreshToken), `refresh token in ${name}`).toBe(false);
      expect(text.includes(acr.entraToken), `Entra token in ${name}`).toBe(false);
    }
  });

  it('the helper protocol (get, no repository) is refused, saying why, with no secret', async () => {
    const got = await host.run(['get'], { input: `${upstream.registry.host}\n` });
    expect(got.exitCode).not.toBe(0);
    expect(String(got.stdout) + String(got.stderr)).toContain('tokens: repository');
    expect(String(got.stdout) + String(got.stderr)).not.toContain(acr.refreshToken);
  });
});
