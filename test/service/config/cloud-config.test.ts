import { configRefusal, useServiceConfigFiles } from '../../helpers/service-config-file.ts';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../../../src/service/config/service-config.ts';
import { DOCKER_HUB_KEY } from '../../../src/registry/registry-key.ts';

// Configuration of the cloud sources: what each reads from the registry name and its settings,
// and the settings that would be silently ignored, refused instead.
const configFiles = useServiceConfigFiles('cloud-config-');
const withRegistries = (registries: unknown[]) => configFiles.env({ registries });
const failure = async (env: Record<string, string>) => (await configRefusal(loadServiceConfig(env, {}))).message;

describe('loadServiceConfig: the ecr and gar sources', () => {
  it('reads account and region from an ECR name, or from account and region for another name', async () => {
    const config = await loadServiceConfig(
      await withRegistries([
        {
          registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
          source: 'ecr',
          mirror: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/docker-hub',
        },
        { registry: '210987654321.dkr.ecr-fips.us-gov-west-1.amazonaws.com', source: 'ecr' },
        { registry: 'ecr.vpce.example', source: 'ecr', account: '111122223333', region: 'ap-northeast-2' },
      ]),
      {},
    );
    expect(config.registries.map((r) => [r.key, r.source, r.ecr])).toEqual([
      ['123456789012.dkr.ecr.eu-west-1.amazonaws.com', 'ecr', { account: '123456789012', region: 'eu-west-1' }],
      [
        '210987654321.dkr.ecr-fips.us-gov-west-1.amazonaws.com',
        'ecr',
        { account: '210987654321', region: 'us-gov-west-1' },
      ],
      ['ecr.vpce.example', 'ecr', { account: '111122223333', region: 'ap-northeast-2' }],
    ]);
    // The pull-through cache for Docker Hub: served under the Docker Hub key, for the endpoint only.
    expect(config.registries[0]).toMatchObject({
      aliases: [DOCKER_HUB_KEY],
      mirrorUrl: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/docker-hub',
      upstreamUrl: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com',
    });
  });

  it('acr: tokens repository is kept on the entry, registry (the default) leaves it out', async () => {
    const config = await loadServiceConfig(
      await withRegistries([
        { registry: 'a.azurecr.io', source: 'acr', tokens: 'repository' },
        { registry: 'b.azurecr.io', source: 'acr', tokens: 'registry' },
      ]),
      {},
    );
    expect(config.registries.map((entry) => entry.acr)).toEqual([{ tokens: 'repository' }, {}]);
  });

  it('the default registry from dstack’s variable with DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE=ecr', async () => {
    const config = await loadServiceConfig(
      {
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: '123456789012.dkr.ecr.us-east-1.amazonaws.com',
        DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'ecr',
      },
      {},
    );
    expect(config.registries[0]).toMatchObject({
      source: 'ecr',
      ecr: { account: '123456789012', region: 'us-east-1' },
      aliases: [DOCKER_HUB_KEY],
    });
    expect(
      await failure({
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: '123456789012.dkr.ecr.us-east-1.amazonaws.com',
        DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'ecr',
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'AWS',
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: 'x',
      }),
    ).toMatch(
      /DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE=ecr mints its own credential: unset DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME and DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD/,
    );
  });

  it.each([
    [
      { registry: 'registry.example', source: 'ecr' },
      /registries\[0\]: registry\.example is not an ECR name \(<account>\.dkr\.ecr\.<region>\.amazonaws\.com\); set registries\[0\]\.account and registries\[0\]\.region/,
    ],
    [
      { registry: 'registry.example', source: 'ecr', account: '12345', region: 'us-east-1' },
      /registries\[0\]\.account: "12345" is not a 12-digit AWS account id/,
    ],
    [
      { registry: 'registry.example', source: 'ecr', account: '123456789012', region: 'mars' },
      /registries\[0\]\.region: "mars" is not an AWS region such as us-east-1/,
    ],
    [
      { registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com', source: 'ecr', username: 'AWS', password: 'x' },
      /registries\[0\]\.username does not apply to source ecr: the service mints the credential with its own cloud identity/,
    ],
    [
      { registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com', source: 'ecr', keyFile: '/k.json' },
      /registries\[0\]\.keyFile does not apply to source ecr/,
    ],
    [
      { registry: 'us-docker.pkg.dev', source: 'gar', region: 'us' },
      /registries\[0\]\.region does not apply to source gar/,
    ],
    [
      { registry: 'us-docker.pkg.dev', source: 'gar', tokenUrl: 'https://oauth2.example/token' },
      /registries\[0\]\.tokenUrl applies to a service-account key file; set registries\[0\]\.keyFile too/,
    ],
    [
      { registry: 'docker.io', source: 'gar' },
      /registries\[0\]: source gar cannot serve Docker Hub; name the cloud registry \(its pull-through cache\) and set mirror/,
    ],
    [
      { registry: 'registry.example', source: 'static', username: 'u', password: 'p', account: '123456789012' },
      /registries\[0\]\.account applies to the cloud sources \(ecr, gar, acr\), not static/,
    ],
    [
      { registry: 'fleet.azurecr.io', source: 'acr', tokens: 'per-pull' },
      /registries\[0\]\.tokens: "per-pull" is not registry \(hosts get the ACR refresh token\) or repository/,
    ],
    [
      { registry: 'us-docker.pkg.dev', source: 'gar', tokens: 'repository' },
      /registries\[0\]\.tokens does not apply to source gar/,
    ],
    [
      { registry: 'registry.example', source: 'static', username: 'u', password: 'p', tokens: 'repository' },
      /registries\[0\]\.tokens applies to the cloud sources \(ecr, gar, acr\), not static/,
    ],
  ])('refuses %j', async (entry, message) => {
    expect(await failure(await withRegistries([entry]))).toMatch(message);
  });
});
