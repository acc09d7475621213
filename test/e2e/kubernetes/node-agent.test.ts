import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScaffold, type Scaffold } from '../harness/stack-scaffold.ts';
import { startStaticBackend, type StaticBackend } from '../harness/static-stack.ts';
import { createHelperHost, type HelperHost } from '../harness/helper-env.ts';
import { startMirrorEndpoint, type MirrorEndpoint } from '../harness/mirror-endpoint.ts';
import { projectedTokenVolume } from '../../helpers/kubernetes-node.ts';
import { defaultConfig, relocate, startContainerd } from '../harness/containerd.ts';
import { criPullImage } from '../harness/cri-client.ts';
import { engineRoot, upstreamVersion, type EngineRoot } from '../harness/engine-roots.ts';
import { lineMatching, markLog } from '../harness/log-match.ts';
import { credentialGrants } from '../../helpers/built-service.ts';
import { freeLoopbackPort } from '../../helpers/free-port.ts';
import { nodeAgent, nodeAgentIdentity } from '../../helpers/kubernetes-manifests.ts';
import {
  fixtureUid,
  startFixtureIssuer,
  type FixtureIssuer,
} from '../../fixtures/kubernetes-issuer/kubernetes-issuer.ts';

// The node agent's path (issue 19, proof 2): the DaemonSet's own command line and settings
// (deploy/kubernetes/, only the port and the paths moved into the test's directory) run the
// built binary; it proves itself with a projected service-account token signed by a fixture
// issuer; the kubelet's CRI PullImage of the local name on a stock containerd config goes through it.
const agent = nodeAgent();
const identity = nodeAgentIdentity();
const roots: EngineRoot[] = [engineRoot('sid'), engineRoot('trixie')];

describe('e2e: the Kubernetes node agent (docker-credential-dstack mirror with a service-account token)', () => {
  let scaffold: Scaffold;
  let issuer: FixtureIssuer;
  let stranger: FixtureIssuer;
  let backend: StaticBackend;
  let host: HelperHost;

  // The agent as the DaemonSet starts it, with the ConfigMap's settings rewritten to this test's
  // directory and the given token written into a projected-token volume.
  async function startAgent(name: string, token: string): Promise<MirrorEndpoint> {
    const dir = join(scaffold.dir, name);
    const volume = await projectedTokenVolume(join(dir, 'secrets'));
    await volume.write(token);
    const settings = {
      ...agent.settings,
      server: backend.service.url,
      serviceAccountTokenFile: volume.path,
      cacheDir: join(dir, 'cache'),
    };
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), JSON.stringify(settings));
    const port = await freeLoopbackPort();
    const [command, ...rest] = agent.args;
    expect(command).toBe('mirror');
    const args = rest.map((arg) => (arg === agent.listen ? `127.0.0.1:${port}` : arg));
    // startMirrorEndpoint runs `mirror --listen 127.0.0.1:PORT` + args: drop the manifest's own --listen pair.
    const listenAt = args.indexOf('--listen');
    args.splice(listenAt, 2);
    return scaffold.track(
      await startMirrorEndpoint({
        dir,
        helper: host,
        name,
        port,
        args,
        // Only the config file: the helper host's token file and cache settings are unset.
        env: {
          DOCKER_CREDENTIAL_DSTACK_CONFIG: join(dir, 'config.json'),
          DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: '',
          DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: '',
          DOCKER_CREDENTIAL_DSTACK_SERVER: '',
        },
      }),
    );
  }

  beforeAll(async () => {
    scaffold = await createScaffold();
    issuer = await startFixtureIssuer();
    stranger = await startFixtureIssuer({ path: '/stranger' });
    scaffold.track({ stop: () => issuer.close() });
    scaffold.track({ stop: () => stranger.close() });
    backend = await startStaticBackend(scaffold, {
      serviceConfig: {
        kubernetes: {
          clusters: [
            {
              issuer: issuer.issuer,
              discoveryUrl: issuer.discoveryUrl,
              projects: [{ namespace: identity.namespace, serviceAccount: identity.serviceAccount, project: 'main' }],
            },
          ],
        },
      },
    });
    host = await createHelperHost({ dir: join(scaffold.dir, 'host'), server: backend.service.url });
  }, 120_000);
  afterAll(async () => {
    await scaffold?.stop();
  });

  it('the DaemonSet runs exactly `mirror --listen 127.0.0.1:8484` and reads its token from the projected volume', () => {
    expect(agent.args).toEqual(['mirror', '--listen', '127.0.0.1:8484']);
    expect(agent.settings.serviceAccountTokenFile).toBe('/var/run/secrets/dstack/token');
  });

  for (const root of roots) {
    const containerd = `containerd ${upstreamVersion(root.packages, 'containerd')} (${root.suite})`;
    it(`${containerd}, stock config: CRI PullImage of the local name goes through the agent, which authenticated with the service-account token`, async () => {
      const endpoint = await startAgent(
        `agent-${root.suite}`,
        await issuer.mint({
          namespace: identity.namespace,
          serviceAccount: identity.serviceAccount,
          audience: identity.audience,
          node: { name: `node-${root.suite}`, uid: `00000000-0000-0000-0000-00000000000${roots.indexOf(root)}` },
        }),
      );
      const dir = join(scaffold.dir, `ctd-${root.suite}`);
      const runtime = await startContainerd({ dir, root, config: relocate(await defaultConfig(root), dir) });
      try {
        const since = await markLog(() => endpoint.log());
        const pull = await criPullImage(runtime.socket, `${endpoint.host}/python:3.14`);
        expect(pull, JSON.stringify(pull)).toMatchObject({
          status: 0,
          imageRef: backend.registry.images.get('library/python:3.14')!.configDigest,
        });
        const log = await since();
        expect(
          lineMatching(
            log,
            /kind=manifest repository=python ref=3\.14 .*upstream_repository=library\/python status=200/,
          ),
          log,
        ).toBeDefined();
        const grants = credentialGrants(await backend.service.audit());
        expect(grants.at(-1)).toMatchObject({
          instance: `k8s:${identity.namespace}/${identity.serviceAccount}@${fixtureUid(identity.namespace, identity.serviceAccount)}`,
          project: 'main',
        });
        expect(log).not.toContain(backend.registry.account!.password);
      } finally {
        await runtime.stop();
      }
    }, 180_000);
  }

  it('revoking the service account by the name the audit gives (the real revoke command) refuses its next token', async () => {
    const name = `k8s:${identity.namespace}/${identity.serviceAccount}@${fixtureUid(identity.namespace, identity.serviceAccount)}`;
    await backend.service.revoke(name);
    // A token minted after the revocation: an instance token's would pass, an account's does not.
    const endpoint = await startAgent(
      'agent-revoked',
      await issuer.mint({
        namespace: identity.namespace,
        serviceAccount: identity.serviceAccount,
        audience: identity.audience,
        issuedAt: Math.floor(Date.now() / 1000) + 2,
      }),
    );
    const response = await fetch(`${endpoint.url}/v2/python/manifests/3.14`);
    expect(response.status).not.toBe(200);
    await endpoint.logWith(/\(token_revoked\): service-account token refused: the service account is revoked/);
  });

  const refused = [
    {
      name: 'a token from another issuer',
      token: () =>
        stranger.mint({
          namespace: identity.namespace,
          serviceAccount: identity.serviceAccount,
          audience: identity.audience,
        }),
      reason: 'token_invalid',
      line: /service-account token \(.*\) refused by .*its issuer \\?"http:\/\/127\.0\.0\.1:\d+\/stranger\\?" is no configured cluster/,
    },
    {
      name: 'a token of another namespace',
      token: () =>
        issuer.mint({ namespace: 'default', serviceAccount: identity.serviceAccount, audience: identity.audience }),
      reason: 'forbidden',
      line: /service-account token \(.*\) refused by .*\(forbidden\): service account default\/docker-credential-dstack of cluster .* is mapped to no dstack project/,
    },
  ];
  for (const refusal of refused) {
    it(`an agent holding ${refusal.name} is refused, and so is the pull`, async () => {
      const endpoint = await startAgent(`agent-${refused.indexOf(refusal)}-refused`, await refusal.token());
      const root = roots[0]!;
      const dir = join(scaffold.dir, `ctd-refused-${refused.indexOf(refusal)}`);
      const runtime = await startContainerd({ dir, root, config: relocate(await defaultConfig(root), dir) });
      try {
        const grantsBefore = credentialGrants(await backend.service.audit()).length;
        const pull = await criPullImage(runtime.socket, `${endpoint.host}/python:3.14`, 60_000);
        expect(pull.status, JSON.stringify(pull)).not.toBe(0);
        // The agent's first request (its upstreams, GET /v1/host-config) is refused; it never gets a credential.
        const log = await endpoint.log();
        expect(log).toMatch(refusal.line);
        expect(log).toContain(`(${refusal.reason})`);
        expect(credentialGrants(await backend.service.audit())).toHaveLength(grantsBefore);
      } finally {
        await runtime.stop();
      }
    }, 180_000);
  }
});
