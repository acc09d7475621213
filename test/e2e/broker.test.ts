import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createScaffold, type Scaffold } from './harness/stack-scaffold.ts';
import { startService, type Service } from '../helpers/built-service.ts';
import { createHelperHost, type HelperHost } from './harness/helper-env.ts';
import { startDockerd, type Dockerd } from './harness/dockerd.ts';
import { tmpdir } from 'node:os';
import { fakeClock, type FakeClock } from '../helpers/fake-clock.ts';
import { accessLine, lineMatching } from './harness/log-match.ts';
import {
  describePull,
  ENGINE_API,
  engineImageInspect,
  engineImagePull,
  engineImageRemove,
  engineRequest,
} from './harness/engine-api.ts';
import { filesUnder } from './harness/host-files.ts';
import { startMirrorEndpoint, type MirrorEndpoint } from './harness/mirror-endpoint.ts';
import {
  dockerHubBrokerEnv,
  realmHostOf,
  startBrokeredRegistry,
  type BrokeredRegistry,
} from '../helpers/brokered-registry.ts';
import { DOCKERD_FALLBACK } from './harness/dockerd-fallback.ts';

// Issue 11 end to end: the registry's token realm is NOT our service (the independent token
// server fixture); the service keeps the password and brokers repository pull tokens; a
// private dockerd whose mirror is the host-local endpoint pulls python:3.14 through the Engine
// API as dstack-shim does (no X-Registry-Auth). The host side never sees the password.
const TOKEN_LIFETIME_SECONDS = 10;
const INSTANCE = 'i-broker-e2e';

let scaffold: Scaffold;
let upstream: BrokeredRegistry;
let service: Service;
let host: HelperHost;
let endpoint: MirrorEndpoint;
let dockerd: Dockerd;
let clocks: string;
let endpointClock: FakeClock;

describe('e2e: a brokered registry behind someone else’s token realm, pulled through the mirror endpoint', () => {
  beforeAll(async () => {
    scaffold = await createScaffold();
    upstream = scaffold.track(
      await startBrokeredRegistry({
        dir: join(scaffold.dir, 'upstream'),
        images: ['library/python:3.14'],
        tokenServer: { lifetimeSeconds: TOKEN_LIFETIME_SECONDS },
      }),
    );
    // The operator's settings: dstack's three variables for this service only, source broker,
    // the host-local mirror endpoint on for the fleet.
    service = scaffold.track(
      await startService({
        dir: join(scaffold.dir, 'svc'),
        env: {
          DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: upstream.registry.host,
          DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: upstream.username,
          DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: upstream.password,
          DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'broker',
          DSTACK_REGISTRY_AUTH_MIRROR_ENDPOINT: 'on',
          // The fixture's realm is on another port than the registry: listed, as an operator would.
          DSTACK_REGISTRY_AUTH_DEFAULT_REALMS: realmHostOf(upstream),
        },
      }),
    );
    host = await createHelperHost({ dir: join(scaffold.dir, 'host'), server: service.url });
    await host.setToken(await service.issueToken({ instance: INSTANCE, project: 'main' }));
    // The endpoint runs on a clock of its own (libfaketime, test/helpers/fake-clock.ts): the test
    // moves it past a token's expiry instead of waiting for it.
    clocks = await mkdtemp(join(tmpdir(), 'broker-clocks-'));
    endpointClock = await fakeClock(clocks, 'endpoint');
    endpoint = scaffold.track(
      await startMirrorEndpoint({ dir: join(scaffold.dir, 'host'), helper: host, env: endpointClock.env }),
    );
    dockerd = scaffold.track(
      await startDockerd({ dir: join(scaffold.dir, 'd'), daemonJson: { 'registry-mirrors': [endpoint.url] } }),
    );
  });
  afterAll(async () => {
    await scaffold?.stop();
    if (clocks) await rm(clocks, { recursive: true, force: true });
  });

  it('pulls python:3.14 via the Engine API with a registry token the service brokered; the password is nowhere on the host', async () => {
    const pull = await engineImagePull(dockerd, 'python', '3.14');
    expect(pull.status).toBe(200);
    expect(pull.error, describePull(pull)).toBeUndefined();
    const image = await engineImageInspect(dockerd, 'python:3.14');
    expect(image.status).toBe(200);
    expect(image.image?.Config?.Labels?.['e2e.seed']).toBe('library/python:3.14');

    // The realm (not ours) was asked once, by the service's account, for pull on that repository.
    expect(upstream.tokenServer.requests.map((r) => `${r.method} ${r.user} ${r.scope} ${r.status}`)).toEqual([
      `GET ${upstream.username} repository:library/python:pull 200`,
    ]);
    // The registry authorized the manifest with that token (its subject is the account).
    const registryLog = await upstream.registry.log();
    expect(
      lineMatching(registryLog, accessLine('GET|HEAD', '/v2/library/python/manifests/3.14', 200)),
      'registry served the tag',
    ).toBeDefined();
    expect(
      lineMatching(
        registryLog,
        new RegExp(`auth\\.user\\.name="?${upstream.username}"? .*uri=/v2/library/python/manifests/3\\.14`),
      ),
      'a token pull by the account',
    ).toBeDefined();
    // The service audited one brokered token for this instance and repository.
    const grants = (await service.audit()).filter((r) => r.event === 'credential' && r.outcome === 'granted');
    expect(grants).toEqual([
      expect.objectContaining({
        instance: INSTANCE,
        project: 'main',
        registry: upstream.registry.host,
        repository: 'library/python',
        source: 'broker',
      }),
    ]);
    // The endpoint logged the pull; dockerd did not fall back to Docker Hub.
    expect(await endpoint.log()).toMatch(
      /pull method=(?:GET|HEAD) kind=manifest repository=library\/python ref=3\.14 .*status=200/,
    );
    expect(lineMatching(await readFile(dockerd.logPath, 'utf8'), DOCKERD_FALLBACK)).toBeUndefined();

    // Host side: every file under the helper's and the engine's directories (logs, cache, state,
    // daemon.json, image store), the endpoint's log, and the engine's own view.
    const basic = Buffer.from(`${upstream.username}:${upstream.password}`).toString('base64');
    const texts: [string, string][] = [
      ...(await filesUnder(join(scaffold.dir, 'host'))),
      ...(await filesUnder(join(scaffold.dir, 'd'))),
      ['docker info', (await engineRequest(dockerd, 'GET', `${ENGINE_API}/info`)).body],
      ['docker inspect', JSON.stringify(image.image)],
      ['pull stream', pull.body],
    ];
    expect(texts.length).toBeGreaterThan(10);
    expect(texts.some(([name]) => name.endsWith('helper.log'))).toBe(true);
    for (const [name, text] of texts) {
      expect(text.includes(upstream.password), `password in ${name}`).toBe(false);
      expect(text.includes(basic), `Basic credential in ${name}`).toBe(false);
    }
  });

  it('after revoke, no new pull succeeds once the last registry token has expired', async () => {
    await service.revoke(INSTANCE);
    const revokedAt = Date.now();
    // The last token the realm issued, and the moment it and every copy of it are dead.
    const lastIssued = Math.max(...upstream.tokenServer.requests.map((r) => r.at));
    const expired = lastIssued + TOKEN_LIFETIME_SECONDS * 1000;
    // The endpoint's clock a second past that moment: every copy it keeps (its memory, the
    // helper's cache files) is past its life by the endpoint's own verdict.
    await endpointClock.set((expired - Date.now()) / 1000 + 1);

    expect(await engineImageRemove(dockerd, 'python:3.14')).toBe(200);
    const pull = await engineImagePull(dockerd, 'python', '3.14');
    expect(
      pull.status !== 200 || pull.error !== undefined,
      `the pull after revoke succeeded: ${describePull(pull)}`,
    ).toBe(true);
    expect((await engineImageInspect(dockerd, 'python:3.14')).status).toBe(404);

    // The service refused the revoked instance; the realm issued nothing more; the registry
    // served no manifest after the revocation; the endpoint named the cause.
    const refusals = (await service.audit()).filter((r) => r.event === 'credential' && r.reason === 'token_revoked');
    expect(refusals.length).toBeGreaterThan(0);
    expect(upstream.tokenServer.requests.filter((r) => r.at > revokedAt)).toEqual([]);
    await endpoint.logWith(/repository=library\/python ref=3\.14 .*cause=credential_refused/);
  });

  it('the Docker Hub case: Docker Hub credentials without a mirror make Docker Hub (here: the fixture registry) the endpoint upstream', async () => {
    // A second service as an operator with only a Docker Hub account configures it; Docker Hub's
    // API URL is pointed at the fixture registry, which the test machine can reach.
    const hubService = scaffold.track(
      await startService({ dir: join(scaffold.dir, 'svc-hub'), env: dockerHubBrokerEnv(upstream) }),
    );
    const hubHost = await createHelperHost({ dir: join(scaffold.dir, 'host-hub'), server: hubService.url });
    await hubHost.setToken(await hubService.issueToken({ instance: 'i-hub-e2e' }));
    // The engine keeps its mirror URL: the endpoint restarts on the same port for this host.
    await endpoint.stop();
    endpoint = scaffold.track(
      await startMirrorEndpoint({ dir: join(scaffold.dir, 'host-hub'), helper: hubHost, port: endpoint.port }),
    );
    const before = upstream.tokenServer.requests.length;

    const pull = await engineImagePull(dockerd, 'python', '3.14');
    expect(pull.error, describePull(pull)).toBeUndefined();
    expect((await engineImageInspect(dockerd, 'python:3.14')).status).toBe(200);
    expect(upstream.tokenServer.requests.slice(before).map((r) => `${r.user} ${r.scope} ${r.status}`)).toEqual([
      `${upstream.username} repository:library/python:pull 200`,
    ]);
    const grants = (await hubService.audit()).filter((r) => r.event === 'credential' && r.outcome === 'granted');
    expect(grants).toEqual([
      expect.objectContaining({
        instance: 'i-hub-e2e',
        registry: 'https://index.docker.io/v1/',
        repository: 'library/python',
        source: 'broker',
      }),
    ]);
    expect(await endpoint.log()).toContain(`upstream=${upstream.registry.url}`);
    for (const [name, text] of await filesUnder(join(scaffold.dir, 'host-hub')))
      expect(text.includes(upstream.password), `password in ${name}`).toBe(false);
  });
});

// Every regular file under `dir` (sockets, fifos and links skipped), as [path, text].
