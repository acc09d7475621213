import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_REGISTRY_ENV, startTestService, type TestService } from '../../helpers/service-harness.ts';
import {
  fixtureUid,
  startFixtureIssuer,
  type FixtureIssuer,
} from '../../fixtures/kubernetes-issuer/kubernetes-issuer.ts';

// The service accepts a projected service-account token of a configured cluster in place of an
// instance token (docs/kubernetes.md), through the real HTTP path of POST /v1/credentials.
const AUDIENCE = 'dstack-registry-auth';
let dir: string;
let cluster: FixtureIssuer;
let other: FixtureIssuer;
let svc: TestService;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubernetes-identity-'));
  cluster = await startFixtureIssuer();
  other = await startFixtureIssuer({ path: '/other' });
  await writeFile(join(dir, 'other-jwks.json'), JSON.stringify(other.jwks));
  const configPath = join(dir, 'config.json');
  await writeFile(
    configPath,
    JSON.stringify({
      kubernetes: {
        clusters: [
          {
            issuer: cluster.issuer,
            discoveryUrl: cluster.discoveryUrl,
            projects: [
              { namespace: 'team-a', serviceAccount: '*', project: 'main' },
              { namespace: 'dstack', serviceAccount: 'node-agent', project: 'main' },
            ],
          },
          {
            issuer: other.issuer,
            jwksFile: join(dir, 'other-jwks.json'),
            projects: [{ namespace: 'ml', serviceAccount: 'default', project: 'ml' }],
          },
        ],
      },
    }),
  );
  svc = await startTestService({
    dataDir: join(dir, 'data'),
    env: {
      ...DEFAULT_REGISTRY_ENV,
      DSTACK_REGISTRY_AUTH_CONFIG: configPath,
      DSTACK_REGISTRY_AUTH_DEFAULT_PROJECTS: 'main',
    },
  });
});
afterAll(async () => {
  await svc?.close();
  await cluster?.close();
  await other?.close();
  await rm(dir, { recursive: true, force: true });
});

const iat = () => Math.floor(svc.now().getTime() / 1000);
const ask = (token: string) =>
  svc.request('/v1/credentials', { token, body: { registry: 'docker.mycompany.example' } });
const audit = () => svc.auditLines.map((line) => JSON.parse(line) as Record<string, unknown>);

describe('Kubernetes service-account tokens at POST /v1/credentials', () => {
  it('grants a mapped namespace its project, and audits the account by namespace, name and uid', async () => {
    const token = await cluster.mint({
      namespace: 'team-a',
      serviceAccount: 'default',
      audience: AUDIENCE,
      issuedAt: iat(),
    });
    const res = await ask(token);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ username: 'docker-user' });
    expect(audit().at(-1)).toMatchObject({
      outcome: 'granted',
      instance: `k8s:team-a/default@${fixtureUid('team-a', 'default')}`,
      project: 'main',
    });
    expect(cluster.fetches['/.well-known/openid-configuration']).toBe(1);
  });

  it('maps a named service account, and the project rules apply to the project it maps to', async () => {
    expect(
      (
        await ask(
          await cluster.mint({
            namespace: 'dstack',
            serviceAccount: 'node-agent',
            audience: AUDIENCE,
            issuedAt: iat(),
          }),
        )
      ).status,
    ).toBe(200);
    // ml is not among the default registry's projects: 403 as for an instance token of project ml.
    const ml = await ask(
      await other.mint({ namespace: 'ml', serviceAccount: 'default', audience: AUDIENCE, issuedAt: iat() }),
    );
    expect(ml.status).toBe(403);
    expect(ml.json.message).toMatch(/not available to project ml/);
  });

  it('refuses an unmapped namespace or account with 403 naming it and the setting', async () => {
    for (const [namespace, serviceAccount] of [
      ['team-b', 'default'],
      ['dstack', 'other'],
    ]) {
      const res = await ask(
        await cluster.mint({
          namespace: namespace!,
          serviceAccount: serviceAccount!,
          audience: AUDIENCE,
          issuedAt: iat(),
        }),
      );
      expect(res.status).toBe(403);
      expect(res.json.message).toBe(
        `service account ${namespace}/${serviceAccount} of cluster ${cluster.issuer} is mapped to no dstack project; add it to kubernetes.clusters[].projects in the service config`,
      );
    }
  });

  it('refuses another audience, an expired token, one not yet valid, one issued in the future', async () => {
    const wrongAudience = await ask(
      await cluster.mint({
        namespace: 'team-a',
        serviceAccount: 'default',
        audience: 'https://kubernetes.default.svc',
        issuedAt: iat(),
      }),
    );
    expect(wrongAudience.status).toBe(401);
    expect(wrongAudience.json.message).toMatch(/audience is not "dstack-registry-auth"/);
    const expired = await ask(
      await cluster.mint({
        namespace: 'team-a',
        serviceAccount: 'default',
        audience: AUDIENCE,
        issuedAt: iat() - 700,
        lifetimeSeconds: 600,
      }),
    );
    expect(expired.status).toBe(401);
    expect(expired.json).toMatchObject({ error: 'token_expired' });
    const future = await ask(
      await cluster.mint({ namespace: 'team-a', serviceAccount: 'default', audience: AUDIENCE, issuedAt: iat() + 120 }),
    );
    expect(future.status).toBe(401);
    // Within the leeway: accepted.
    expect(
      (
        await ask(
          await cluster.mint({
            namespace: 'team-a',
            serviceAccount: 'default',
            audience: AUDIENCE,
            issuedAt: iat() + 20,
          }),
        )
      ).status,
    ).toBe(200);
  });

  it('refuses a token that names a configured issuer but is signed by another cluster', async () => {
    const forged = await other.mint({
      namespace: 'team-a',
      serviceAccount: 'default',
      audience: AUDIENCE,
      issuedAt: iat(),
      issuer: cluster.issuer,
    });
    const res = await ask(forged);
    expect(res.status).toBe(401);
    expect(res.json.message).toMatch(/signed by a key the cluster does not publish/);
  });

  it('refuses an unknown issuer as an instance token would be refused', async () => {
    const stranger = await startFixtureIssuer({ path: '/stranger' });
    try {
      const res = await ask(
        await stranger.mint({ namespace: 'team-a', serviceAccount: 'default', audience: AUDIENCE, issuedAt: iat() }),
      );
      expect(res.status).toBe(401);
      expect(res.json.error).toBe('token_invalid');
      expect(res.json.message).toBe(
        `service-account token rejected: its issuer "${stranger.issuer}" is no configured cluster; add the cluster to kubernetes.clusters in the service config`,
      );
    } finally {
      await stranger.close();
    }
  });

  it('revokes a service account by the instance name the audit gives, whatever the token iat; a new uid is admitted', async () => {
    const revokedAt = new Date(svc.now().getTime());
    await svc.service.revocations.revoke(`k8s:ml/default@${fixtureUid('ml', 'default')}`, revokedAt);
    const later = await ask(
      await other.mint({ namespace: 'ml', serviceAccount: 'default', audience: AUDIENCE, issuedAt: iat() + 10 }),
    );
    expect(later.status).toBe(401);
    expect(later.json).toMatchObject({ error: 'token_revoked' });
    expect(audit().at(-1)).toMatchObject({
      outcome: 'denied',
      reason: 'token_revoked',
      instance: `k8s:ml/default@${fixtureUid('ml', 'default')}`,
    });
    const recreated = await ask(
      await other.mint({
        namespace: 'ml',
        serviceAccount: 'default',
        serviceAccountUid: '11111111-2222-3333-4444-555555555555',
        audience: AUDIENCE,
        issuedAt: iat(),
      }),
    );
    expect(recreated.json.error).not.toBe('token_revoked');
  });

  it('revokes one node by k8s-node:<uid>', async () => {
    const node = { name: 'node-1', uid: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' };
    const ok = await ask(
      await cluster.mint({ namespace: 'team-a', serviceAccount: 'runner', audience: AUDIENCE, issuedAt: iat(), node }),
    );
    expect(ok.status).toBe(200);
    await svc.service.revocations.revoke(`k8s-node:${node.uid}`, svc.now());
    const res = await ask(
      await cluster.mint({ namespace: 'team-a', serviceAccount: 'runner', audience: AUDIENCE, issuedAt: iat(), node }),
    );
    expect(res.status).toBe(401);
    expect(res.json.message).toMatch(/node node-1 is revoked/);
  });

  it('still takes instance tokens', async () => {
    expect((await ask(await svc.mint('i-1', 'main'))).status).toBe(200);
  });
});

describe('the instance name of a service account', () => {
  it('is one the revoke routes accept, for the longest names Kubernetes allows', async () => {
    const { checkName } = await import('../../../src/service/core/instance-names.ts');
    const { kubernetesInstance } = await import('../../../src/service/identity/kubernetes-identity.ts');
    const longest = kubernetesInstance({
      namespace: 'n'.repeat(63),
      name: 's'.repeat(253),
      uid: '0123abcd-0123-4567-89ab-0123456789ab',
    } as Parameters<typeof kubernetesInstance>[0]);
    expect(longest.length).toBe(358);
    expect(checkName(longest, 'instance', 'bad_request')).toBe(longest);
  });
});
