import { describe, expect, it } from 'vitest';
import { parseKubernetesConfig } from '../../../src/service/identity/kubernetes-config.ts';

const WHERE = 'DSTACK_REGISTRY_AUTH_CONFIG (/etc/c.json)';
const parse = (raw: unknown) => parseKubernetesConfig(raw, WHERE, 'dstack-registry-auth');
const cluster = {
  issuer: 'https://oidc.example/id/1',
  jwksFile: '/etc/dstack/jwks.json',
  projects: [{ namespace: 'dstack', serviceAccount: '*', project: 'main' }],
};

describe('the kubernetes section of the service config', () => {
  it('takes clusters with one key source each and defaults the audience', () => {
    expect(parse({ clusters: [cluster] })).toEqual({
      audience: 'dstack-registry-auth',
      clusters: [
        {
          issuer: cluster.issuer,
          keys: { kind: 'jwks_file', path: '/etc/dstack/jwks.json' },
          projects: cluster.projects,
        },
      ],
    });
    expect(
      parse({
        audience: 'x',
        clusters: [
          {
            ...cluster,
            jwksFile: undefined,
            discoveryUrl: 'https://oidc.example/id/1/.well-known/openid-configuration',
          },
        ],
      }).clusters[0]!.keys.kind,
    ).toBe('discovery');
  });

  it('refuses, in one line naming the setting, what would make verification ambiguous or wrong', () => {
    const cases: [unknown, string][] = [
      [{ clusters: [] }, `${WHERE}: kubernetes.clusters must be a non-empty list`],
      [
        { clusters: [{ ...cluster, jwksUrl: 'https://x/jwks' }] },
        'needs exactly one of "jwksFile", "jwksUrl" or "discoveryUrl"',
      ],
      [{ clusters: [cluster, cluster] }, 'is configured twice'],
      [{ clusters: [{ ...cluster, issuer: 'dstack-registry-auth' }] }, "is the service's own instance-token issuer"],
      [
        { clusters: [{ ...cluster, projects: [{ namespace: 'Team_A', serviceAccount: '*', project: 'p' }] }] },
        'is not a Kubernetes namespace name',
      ],
      [
        { clusters: [{ ...cluster, projects: [{ namespace: 'a', project: 'p' }] }] },
        'serviceAccount must be a non-empty string',
      ],
      [{ clusters: [{ ...cluster, jwks: 'x' }] }, 'kubernetes.clusters[0].jwks is not a known setting'],
      [{ clusters: [{ ...cluster, jwksFile: 'jwks.json' }] }, 'must be an absolute path'],
    ];
    for (const [raw, message] of cases) expect(() => parse(raw), message).toThrow(message);
  });
});
