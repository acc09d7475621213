import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScaffold, type Scaffold } from '../harness/stack-scaffold.ts';
import { startStaticBackend, type StaticBackend } from '../harness/static-stack.ts';
import { createHelperHost, type HelperHost } from '../harness/helper-env.ts';
import { projectedTokenVolume, providerRequest, type ProjectedTokenVolume } from '../../helpers/kubernetes-node.ts';
import { defaultConfig, relocate, startContainerd } from '../harness/containerd.ts';
import { criPullImage } from '../harness/cri-client.ts';
import { sidRoot } from '../harness/engine-matrix.ts';
import { upstreamVersion } from '../harness/engine-roots.ts';
import { startFixtureIssuer, type FixtureIssuer } from '../../fixtures/kubernetes-issuer/kubernetes-issuer.ts';

// The built binary as the kubelet runs an exec credential provider (issue 19, proof 1): a
// CredentialProviderRequest on stdin, only the environment of the CredentialProviderConfig, the
// response on stdout, and then the answer's credential in a CRI PullImage `auth` field, which is
// what the kubelet does with it.
const AUDIENCE = 'dstack-registry-auth';
const root = sidRoot();
const CONTAINERD = `containerd ${upstreamVersion(root.packages, 'containerd')} (sid)`;

describe('e2e: docker-credential-dstack kubelet-credential-provider', () => {
  let scaffold: Scaffold;
  let issuer: FixtureIssuer;
  let backend: StaticBackend;
  let host: HelperHost;
  let nodeToken: ProjectedTokenVolume;
  let image: string;
  let registryHost: string;

  beforeAll(async () => {
    scaffold = await createScaffold();
    issuer = await startFixtureIssuer();
    scaffold.track({ stop: () => issuer.close() });
    backend = await startStaticBackend(scaffold, {
      serviceConfig: {
        kubernetes: {
          clusters: [
            {
              issuer: issuer.issuer,
              jwksUrl: issuer.jwksUrl,
              projects: [
                { namespace: 'team-a', serviceAccount: '*', project: 'main' },
                { namespace: 'dstack', serviceAccount: 'node-agent', project: 'main' },
              ],
            },
          ],
        },
      },
    });
    registryHost = backend.registry.process.host;
    image = `${registryHost}/library/python:3.14`;
    host = await createHelperHost({ dir: join(scaffold.dir, 'node'), server: backend.service.url, debugLog: false });
    nodeToken = await projectedTokenVolume(join(scaffold.dir, 'node', 'projected'));
    await nodeToken.write(await issuer.mint({ namespace: 'dstack', serviceAccount: 'node-agent', audience: AUDIENCE }));
  }, 120_000);
  afterAll(async () => {
    await scaffold?.stop();
  });

  // The environment a CredentialProviderConfig `env` list gives: the server and the node's token.
  const provider = async (input: string, env: Record<string, string> = {}) => {
    const result = await host.run(['kubelet-credential-provider'], {
      input,
      env: { DOCKER_CREDENTIAL_DSTACK_SERVICE_ACCOUNT_TOKEN_FILE: nodeToken.path, ...env },
    });
    return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
  };

  const expectedResponse = (apiVersion = 'credentialprovider.kubelet.k8s.io/v1') => ({
    kind: 'CredentialProviderResponse',
    apiVersion,
    cacheKeyType: 'Registry',
    // The static source's credential lives 10 minutes: half of it.
    cacheDuration: '5m0s',
    auth: {
      [registryHost]: { username: backend.registry.account!.username, password: backend.registry.account!.password },
    },
  });

  it("with the pod's serviceAccountToken: exactly the response, and nothing else on stdout or stderr", async () => {
    const podToken = await issuer.mint({
      namespace: 'team-a',
      serviceAccount: 'default',
      audience: AUDIENCE,
      pod: { name: 'job-1', uid: 'p-1' },
    });
    const result = await provider(
      providerRequest(image, { serviceAccountToken: podToken, serviceAccountAnnotations: { 'example.com/x': 'y' } }),
      { DOCKER_CREDENTIAL_DSTACK_SERVICE_ACCOUNT_TOKEN_FILE: join(scaffold.dir, 'absent') },
    );
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n')).toHaveLength(1);
    expect(JSON.parse(result.stdout)).toEqual(expectedResponse());
    const audit = await backend.service.audit();
    expect(audit.at(-1)).toMatchObject({
      event: 'credential',
      outcome: 'granted',
      instance: expect.stringMatching(/^k8s:team-a\/default@/),
    });
  });

  it("without one: the node's projected token file, read through the kubelet's links, and the echoed apiVersion", async () => {
    const result = await provider(providerRequest(image, { apiVersion: 'credentialprovider.kubelet.k8s.io/v1beta1' }));
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual(expectedResponse('credentialprovider.kubelet.k8s.io/v1beta1'));
    expect((await backend.service.audit()).at(-1)).toMatchObject({
      outcome: 'granted',
      instance: expect.stringMatching(/^k8s:dstack\/node-agent@/),
    });
  });

  it('keys Docker Hub images the two ways the kubelet looks them up', async () => {
    // The static default registry is also served under the Docker Hub key (the mirror alias).
    const result = await provider(providerRequest('python:3.14'));
    expect(Object.keys(JSON.parse(result.stdout).auth)).toEqual(['docker.io', 'index.docker.io']);
  });

  const refusals: { name: string; token: () => Promise<string>; line: RegExp }[] = [
    {
      name: 'an unmapped namespace',
      token: () => issuer.mint({ namespace: 'team-b', serviceAccount: 'default', audience: AUDIENCE }),
      line: /service account team-b\/default of cluster .* is mapped to no dstack project/,
    },
    {
      name: 'an expired token',
      token: () =>
        issuer.mint({
          namespace: 'team-a',
          serviceAccount: 'default',
          audience: AUDIENCE,
          issuedAt: Math.floor(Date.now() / 1000) - 1200,
          lifetimeSeconds: 600,
        }),
      line: /\(token_expired\)/,
    },
    {
      name: 'another audience',
      token: () =>
        issuer.mint({ namespace: 'team-a', serviceAccount: 'default', audience: 'https://kubernetes.default.svc' }),
      line: /its audience is not "dstack-registry-auth"/,
    },
  ];
  for (const refusal of refusals) {
    it(`refuses ${refusal.name}: exit 1, one line on stderr, no token, nothing on stdout`, async () => {
      const token = await refusal.token();
      const started = Date.now();
      const result = await provider(providerRequest(image, { serviceAccountToken: token }));
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/^docker-credential-dstack kubelet-credential-provider: /);
      expect(result.stderr).toMatch(refusal.line);
      expect(result.stderr).not.toContain(token.split('.')[2]!);
      expect(Date.now() - started).toBeLessThan(10_000);
    });
  }

  it('--help prints its usage; an argument the kubelet was told to pass is refused in one line', async () => {
    const help = await host.run(['kubelet-credential-provider', '--help']);
    expect(help.exitCode).toBe(0);
    expect(String(help.stdout)).toMatch(/^Usage: docker-credential-dstack kubelet-credential-provider\n/);
    const extra = await host.run(['kubelet-credential-provider', 'get-credentials'], { input: providerRequest(image) });
    expect(extra.exitCode).toBe(1);
    expect(String(extra.stdout)).toBe('');
    expect(String(extra.stderr)).toMatch(
      /^docker-credential-dstack kubelet-credential-provider: takes no arguments \(got "get-credentials"\); list none under "args" in the CredentialProviderConfig$/,
    );
  });

  it("rejects a request with an unknown field, as the kubelet's strict decoding would", async () => {
    const result = await provider(
      JSON.stringify({
        kind: 'CredentialProviderRequest',
        apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
        image,
        imagePullPolicy: 'Always',
      }),
    );
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'docker-credential-dstack kubelet-credential-provider: unknown field "imagePullPolicy" in the CredentialProviderRequest; this provider speaks credentialprovider.kubelet.k8s.io/v1, credentialprovider.kubelet.k8s.io/v1beta1, credentialprovider.kubelet.k8s.io/v1alpha1',
    );
  });

  it(`the returned credential in a CRI PullImage auth field pulls from the authenticated registry on ${CONTAINERD}`, async () => {
    const podToken = await issuer.mint({ namespace: 'team-a', serviceAccount: 'default', audience: AUDIENCE });
    const answer = JSON.parse((await provider(providerRequest(image, { serviceAccountToken: podToken }))).stdout) as {
      auth: Record<string, { username: string; password: string }>;
    };
    const dir = join(scaffold.dir, 'ctd');
    const containerd = await startContainerd({ dir, root, config: relocate(await defaultConfig(root), dir) });
    try {
      const anonymous = await criPullImage(containerd.socket, image, 30_000);
      expect(anonymous.status, 'the registry refuses anonymous pulls').not.toBe(0);
      const { username, password } = answer.auth[registryHost]!;
      const pull = await criPullImage(containerd.socket, image, 90_000, { username, password });
      expect(pull, JSON.stringify(pull)).toMatchObject({
        status: 0,
        imageRef: backend.registry.images.get('library/python:3.14')!.configDigest,
      });
    } finally {
      await containerd.stop();
    }
  }, 180_000);
});
