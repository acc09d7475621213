import { configRefusal, useServiceConfigFiles } from '../../helpers/service-config-file.ts';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../../../src/service/config/service-config.ts';
import { unknownSettings } from '../../../src/service/config/unknown-settings.ts';
import { DOCKER_HUB_KEY } from '../../../src/registry/registry-key.ts';

const configFiles = useServiceConfigFiles('broker-config-');
const withFile = configFiles.env;
const failure = async (env: Record<string, string>) => (await configRefusal(loadServiceConfig(env, {}))).message;

const HUB_ACCOUNT = {
  DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'hub-user',
  DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: 'hub-access-token',
};

describe('loadServiceConfig: the broker source', () => {
  it('makes Docker Hub credentials without a registry a brokered Docker Hub entry whose upstream is registry-1.docker.io', async () => {
    const config = await loadServiceConfig({ ...HUB_ACCOUNT, DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'broker' }, {});
    expect(config.registries).toHaveLength(1);
    expect(config.registries[0]).toMatchObject({
      key: DOCKER_HUB_KEY,
      source: 'broker',
      aliases: [],
      upstreamUrl: 'https://registry-1.docker.io',
    });
    expect(config.registries[0]!.broker!.username).toBe('hub-user');
    expect(config.registries[0]!.broker!.password.reveal()).toBe('hub-access-token');
    expect(config.registries[0]!.static).toBeUndefined();
    expect(JSON.stringify(config)).not.toContain('hub-access-token');
  });

  it('lets the upstream URL be overridden (a loopback registry in tests), origin only, https off loopback', async () => {
    const config = await loadServiceConfig(
      {
        ...HUB_ACCOUNT,
        DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'broker',
        DSTACK_REGISTRY_AUTH_DEFAULT_UPSTREAM_URL: 'http://127.0.0.1:5000/',
      },
      {},
    );
    expect(config.registries[0]!.upstreamUrl).toBe('http://127.0.0.1:5000');
    expect(
      await failure({ ...HUB_ACCOUNT, DSTACK_REGISTRY_AUTH_DEFAULT_UPSTREAM_URL: 'http://registry.example' }),
    ).toMatch(
      /^DSTACK_REGISTRY_AUTH_DEFAULT_UPSTREAM_URL: invalid registry API URL "http:\/\/registry\.example": plain http:\/\/ .*; use https:\/\//,
    );
    expect(
      await failure({ ...HUB_ACCOUNT, DSTACK_REGISTRY_AUTH_DEFAULT_UPSTREAM_URL: 'https://registry.example/v2/' }),
    ).toMatch(/scheme:\/\/host\[:port\] only/);
  });

  it('brokers a default registry (a mirror): its upstream is the mirror URL’s origin', async () => {
    const config = await loadServiceConfig(
      {
        ...HUB_ACCOUNT,
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'harbor.example',
        DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'broker',
        DSTACK_REGISTRY_AUTH_DEFAULT_MIRROR_URL: 'https://harbor.example/dockerhub-proxy',
      },
      {},
    );
    expect(config.registries[0]).toMatchObject({
      key: 'harbor.example',
      source: 'broker',
      aliases: [DOCKER_HUB_KEY],
      mirrorUrl: 'https://harbor.example/dockerhub-proxy',
      library: 'keep',
      upstreamUrl: 'https://harbor.example',
    });
  });

  it('needs the account for source broker', async () => {
    expect(await failure({ DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'broker' })).toMatch(
      /^DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE=broker needs DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME and DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD/,
    );
    expect(
      await failure({
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'r.example',
        DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'broker',
      }),
    ).toMatch(/broker needs/);
    expect(await failure(await withFile({ registries: [{ registry: 'ghcr.io', source: 'broker' }] }))).toMatch(
      /registries\[0\]\.username is required for source broker/,
    );
    expect(
      await failure(await withFile({ registries: [{ registry: 'ghcr.io', source: 'broker', username: 'u' }] })),
    ).toMatch(/registries\[0\]\.password \(or passwordEnv\) is required for source broker/);
    expect(await failure({ DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'brokered' })).toMatch(
      /unknown source "brokered"; use static, issuer, broker, ecr, gar or acr/,
    );
  });

  it('reads broker registries from the config file, Docker Hub included, with passwordEnv and an upstream', async () => {
    const env = await withFile({
      registries: [
        { registry: 'ghcr.io', source: 'broker', username: 'bot', passwordEnv: 'GHCR_TOKEN', projects: ['ml'] },
        { registry: 'docker.io', source: 'broker', username: 'hub', password: 'hub-pw', upstream: 'http://[::1]:5000' },
      ],
    });
    const config = await loadServiceConfig({ ...env, GHCR_TOKEN: 'ghcr-secret' }, {});
    expect(config.registries.map((r) => [r.key, r.source, r.upstreamUrl, r.broker?.username])).toEqual([
      ['ghcr.io', 'broker', 'https://ghcr.io', 'bot'],
      [DOCKER_HUB_KEY, 'broker', 'http://[::1]:5000', 'hub'],
    ]);
    expect(
      await failure(
        await withFile({
          registries: [{ registry: 'ghcr.io', source: 'broker', username: 'u', password: 'p', credentialTtl: '5m' }],
        }),
      ),
    ).toMatch(/credentialTtl does not apply to source broker/);
    expect(await failure(await withFile({ registries: [{ registry: 'docker.io', source: 'issuer' }] }))).toMatch(
      /issuer cannot serve Docker Hub; use static or broker/,
    );
  });
});

describe('loadServiceConfig: mirror endpoint settings', () => {
  it('reads the fleet default (on/off, true/false; off by default)', async () => {
    expect((await loadServiceConfig({}, {})).mirrorEndpoint).toBe(false);
    expect((await loadServiceConfig({ DSTACK_REGISTRY_AUTH_MIRROR_ENDPOINT: 'on' }, {})).mirrorEndpoint).toBe(true);
    expect(
      (
        await loadServiceConfig(
          { DSTACK_REGISTRY_AUTH_MIRROR_ENDPOINT: 'off', ...(await withFile({ mirrorEndpoint: true })) },
          {},
        )
      ).mirrorEndpoint,
    ).toBe(false);
    expect((await loadServiceConfig(await withFile({ mirrorEndpoint: true }), {})).mirrorEndpoint).toBe(true);
    expect(await failure({ DSTACK_REGISTRY_AUTH_MIRROR_ENDPOINT: 'sometimes' })).toMatch(
      /^DSTACK_REGISTRY_AUTH_MIRROR_ENDPOINT: "sometimes" is not a boolean/,
    );
  });

  it('reads the library mode of a mirror: default keep; variable for the default registry, key per registry', async () => {
    const single = await loadServiceConfig(
      {
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'docker.mycompany.example',
        DSTACK_REGISTRY_AUTH_DEFAULT_LIBRARY: 'strip',
      },
      {},
    );
    expect(single.registries[0]!.library).toBe('strip');
    const fromFile = await loadServiceConfig(
      await withFile({
        registries: [
          {
            registry: 'cache.example',
            source: 'static',
            username: 'u',
            password: 'p',
            mirror: 'https://cache.example/hub',
            library: 'both',
          },
        ],
      }),
      {},
    );
    expect(fromFile.registries[0]).toMatchObject({
      mirrorUrl: 'https://cache.example/hub',
      library: 'both',
      upstreamUrl: 'https://cache.example',
    });
    expect(
      (await loadServiceConfig({ DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'docker.mycompany.example' }, {}))
        .registries[0]!.library,
    ).toBe('keep');
  });

  it('refuses a library mode that is unknown or that has no mirror to apply to', async () => {
    expect(
      await failure({
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'r.example',
        DSTACK_REGISTRY_AUTH_DEFAULT_LIBRARY: 'drop',
      }),
    ).toMatch(/^DSTACK_REGISTRY_AUTH_DEFAULT_LIBRARY: "drop" is not a library mode; use keep/);
    expect(await failure({ ...HUB_ACCOUNT, DSTACK_REGISTRY_AUTH_DEFAULT_LIBRARY: 'strip' })).toMatch(
      /applies to a Docker Hub mirror; without DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY the registry is Docker Hub/,
    );
    expect(
      await failure(
        await withFile({
          registries: [{ registry: 'ghcr.io', source: 'static', username: 'u', password: 'p', library: 'strip' }],
        }),
      ),
    ).toMatch(/registries\[0\]\.library applies to a Docker Hub mirror; set registries\[0\]\.mirror too/);
  });

  it('knows its new variables, so none of them is warned about as unknown', () => {
    const env = {
      DSTACK_REGISTRY_AUTH_MIRROR_ENDPOINT: 'on',
      DSTACK_REGISTRY_AUTH_DEFAULT_LIBRARY: 'strip',
      DSTACK_REGISTRY_AUTH_DEFAULT_UPSTREAM_URL: 'https://x',
      DSTACK_REGISTRY_AUTH_MIRROR_ENDPIONT: 'on',
    };
    expect(unknownSettings(env)).toEqual(['DSTACK_REGISTRY_AUTH_MIRROR_ENDPIONT']);
  });
});
