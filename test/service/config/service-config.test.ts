import { configRefusal, useServiceConfigFiles } from '../../helpers/service-config-file.ts';
import { describe, expect, it } from 'vitest';
import { assertTransportAllowed, loadServiceConfig } from '../../../src/service/config/service-config.ts';
import { DOCKER_HUB_KEY } from '../../../src/registry/registry-key.ts';

const configFile = useServiceConfigFiles('service-config-').file;

describe('loadServiceConfig: dstack default registry variables', () => {
  it('serves the default registry under its own key and the Docker Hub key, as a mirror, with static credentials', async () => {
    const config = await loadServiceConfig(
      {
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'https://Docker.MyCompany.example/',
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'docker-user',
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: 'docker-password',
      },
      {},
    );
    expect(config.registries).toHaveLength(1);
    const [entry] = config.registries;
    expect(entry).toMatchObject({
      key: 'docker.mycompany.example',
      source: 'static',
      projects: ['*'],
      aliases: [DOCKER_HUB_KEY],
      mirrorUrl: 'https://docker.mycompany.example',
    });
    expect(entry!.static!.username).toBe('docker-user');
    expect(entry!.static!.password.reveal()).toBe('docker-password');
    expect(entry!.static!.ttlSeconds).toBe(600);
    expect(JSON.stringify(config)).not.toContain('docker-password');
  });

  it('treats credentials without a registry as Docker Hub credentials', async () => {
    const config = await loadServiceConfig(
      {
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: '',
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'u',
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: 'p',
      },
      {},
    );
    expect(config.registries).toHaveLength(1);
    expect(config.registries[0]).toMatchObject({ key: DOCKER_HUB_KEY, source: 'static', aliases: [] });
    expect(config.registries[0]!.mirrorUrl).toBeUndefined();
  });

  it('treats empty values as unset: no registry at all', async () => {
    const config = await loadServiceConfig(
      {
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: '',
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: '',
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: '',
      },
      {},
    );
    expect(config.registries).toEqual([]);
  });

  it('keeps a default registry without credentials as a mirror with nothing to issue', async () => {
    const config = await loadServiceConfig({ DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: '127.0.0.1:5000' }, {});
    expect(config.registries[0]).toMatchObject({
      key: '127.0.0.1:5000',
      mirrorUrl: 'http://127.0.0.1:5000',
      aliases: [DOCKER_HUB_KEY],
    });
    expect(config.registries[0]!.static).toBeUndefined();
  });

  it('uses the issuer source when chosen, with the registry key as default service', async () => {
    const config = await loadServiceConfig(
      {
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'docker.mycompany.example',
        DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'issuer',
        DSTACK_REGISTRY_AUTH_TICKET_TTL: '2m',
      },
      {},
    );
    expect(config.registries[0]).toMatchObject({
      source: 'issuer',
      issuer: {
        service: 'docker.mycompany.example',
        ticketTtlSeconds: 120,
        tokenTtlSeconds: 300,
        anonymousPull: false,
        repositories: { '*': ['*'] },
      },
    });
  });

  it('takes the mirror URL, token service, projects and plain-HTTP choice from DSTACK_REGISTRY_AUTH_DEFAULT_* settings', async () => {
    const config = await loadServiceConfig(
      {
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'docker.mycompany.example',
        DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'issuer',
        DSTACK_REGISTRY_AUTH_DEFAULT_SERVICE: 'cache-service',
        DSTACK_REGISTRY_AUTH_DEFAULT_MIRROR_URL: 'https://mirror.mycompany.example:8443/',
        DSTACK_REGISTRY_AUTH_DEFAULT_PROJECTS: 'main, ml',
        DSTACK_REGISTRY_AUTH_PLAIN_HTTP: 'true',
      },
      {},
    );
    expect(config.plainHttp).toBe(true);
    expect(config.registries[0]).toMatchObject({
      projects: ['main', 'ml'],
      mirrorUrl: 'https://mirror.mycompany.example:8443',
      issuer: { service: 'cache-service' },
    });
    const bad = await configRefusal(
      loadServiceConfig(
        {
          DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'r.example',
          DSTACK_REGISTRY_AUTH_DEFAULT_MIRROR_URL: 'ftp://r.example',
        },
        {},
      ),
    );
    expect(bad.message).toContain('DSTACK_REGISTRY_AUTH_DEFAULT_MIRROR_URL');
  });

  // configure on every host refuses these (dockerd would not start): refuse them here, once.
  it.each(['https://m.example/?x=1', 'https://m.example/#f', 'm.example'])(
    'refuses the mirror URL %s that no host could use, in one line naming the setting',
    async (mirror) => {
      const bad = await configRefusal(
        loadServiceConfig(
          { DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'r.example', DSTACK_REGISTRY_AUTH_DEFAULT_MIRROR_URL: mirror },
          {},
        ),
      );
      expect(bad.message).toMatch(/^DSTACK_REGISTRY_AUTH_DEFAULT_MIRROR_URL: invalid mirror URL/);
      expect(bad.message).not.toContain('\n');
    },
  );

  it.each([
    [{ DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'u' }, 'DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD'],
    [{ DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: 'p' }, 'DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME'],
    [{ DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'ftp://x' }, 'DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY'],
    [
      { DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'r.example', DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'quay' },
      'DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE',
    ],
    [
      { DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'r.example', DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'ecr' },
      'DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE',
    ],
    [{ DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'issuer' }, 'DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE'],
    [{ DSTACK_REGISTRY_AUTH_CREDENTIAL_TTL: '10 minutes' }, 'DSTACK_REGISTRY_AUTH_CREDENTIAL_TTL'],
    [{ DSTACK_REGISTRY_AUTH_CREDENTIAL_TTL: '999999999d' }, 'DSTACK_REGISTRY_AUTH_CREDENTIAL_TTL'],
    [{ DSTACK_REGISTRY_AUTH_TICKET_TTL: '2d' }, 'DSTACK_REGISTRY_AUTH_TICKET_TTL'],
    [{ DSTACK_REGISTRY_AUTH_REGISTRY_TOKEN_TTL: '25h' }, 'DSTACK_REGISTRY_AUTH_REGISTRY_TOKEN_TTL'],
    [{ DSTACK_REGISTRY_AUTH_INSTANCE_TOKEN_TTL: '0' }, 'DSTACK_REGISTRY_AUTH_INSTANCE_TOKEN_TTL'],
    [{ DSTACK_REGISTRY_AUTH_LISTEN: 'nowhere' }, 'DSTACK_REGISTRY_AUTH_LISTEN'],
    [{ DSTACK_REGISTRY_AUTH_TLS_CERT: '/x.pem' }, 'DSTACK_REGISTRY_AUTH_TLS_KEY'],
    [{ DSTACK_REGISTRY_AUTH_ADMIN_TOKEN: 'short' }, 'DSTACK_REGISTRY_AUTH_ADMIN_TOKEN'],
    [{ DSTACK_REGISTRY_AUTH_DATABASE_URL: 'mysql://x' }, 'DSTACK_REGISTRY_AUTH_DATABASE_URL'],
    [{ DSTACK_REGISTRY_AUTH_PUBLIC_URL: 'not a url' }, 'DSTACK_REGISTRY_AUTH_PUBLIC_URL'],
    [{ DSTACK_REGISTRY_AUTH_PLAIN_HTTP: 'maybe' }, 'DSTACK_REGISTRY_AUTH_PLAIN_HTTP'],
  ])('rejects %j naming %s, without echoing a password', async (env, name) => {
    const error = await configRefusal(loadServiceConfig(env as Record<string, string>, {}));
    expect(error.message).toContain(name);
    expect(error.message).not.toMatch(/\n/);
  });

  it('never puts the password into an error message', async () => {
    const error = await configRefusal(
      loadServiceConfig({ DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: 'hunter2-secret-value' }, {}),
    );
    expect(error.message).not.toContain('hunter2-secret-value');
  });
});

describe('loadServiceConfig: service settings', () => {
  it('applies defaults, then the file, then variables, then flags', async () => {
    const path = await configFile({
      listen: '127.0.0.1:9000',
      dataDir: '/from/file',
      instanceTokenTtl: '7d',
      issuer: 'file-issuer',
    });
    const defaults = await loadServiceConfig({}, {});
    expect(defaults).toMatchObject({
      listen: '127.0.0.1:8480',
      dataDir: '/var/lib/dstack-registry-auth',
      publicUrl: 'http://127.0.0.1:8480',
      plainHttp: false,
      issuerName: 'dstack-registry-auth',
      instanceTokenTtlSeconds: 2_592_000,
    });
    const fromFile = await loadServiceConfig({ DSTACK_REGISTRY_AUTH_CONFIG: path }, {});
    expect(fromFile).toMatchObject({
      listen: '127.0.0.1:9000',
      dataDir: '/from/file',
      instanceTokenTtlSeconds: 604_800,
      issuerName: 'file-issuer',
    });
    const fromEnv = await loadServiceConfig(
      {
        DSTACK_REGISTRY_AUTH_CONFIG: path,
        DSTACK_REGISTRY_AUTH_LISTEN: '127.0.0.1:9001',
        DSTACK_REGISTRY_AUTH_DATA_DIR: '/from/env',
      },
      {},
    );
    expect(fromEnv).toMatchObject({ listen: '127.0.0.1:9001', dataDir: '/from/env' });
    const fromFlags = await loadServiceConfig(
      { DSTACK_REGISTRY_AUTH_CONFIG: path, DSTACK_REGISTRY_AUTH_LISTEN: '127.0.0.1:9001' },
      { listen: '127.0.0.1:0', dataDir: '/from/flag', plainHttp: true },
    );
    expect(fromFlags).toMatchObject({ listen: '127.0.0.1:0', dataDir: '/from/flag', plainHttp: true });
    const plainFile = await configFile({ plainHttp: true });
    expect((await loadServiceConfig({ DSTACK_REGISTRY_AUTH_CONFIG: plainFile }, {})).plainHttp).toBe(true);
    expect(
      (
        await loadServiceConfig(
          { DSTACK_REGISTRY_AUTH_CONFIG: plainFile, DSTACK_REGISTRY_AUTH_PLAIN_HTTP: 'false' },
          {},
        )
      ).plainHttp,
    ).toBe(false);
  });

  it('carries the admin token as a Secret and TLS files as given', async () => {
    const config = await loadServiceConfig(
      {
        DSTACK_REGISTRY_AUTH_ADMIN_TOKEN: 'admin-token-0123456789abcdef',
        DSTACK_REGISTRY_AUTH_TLS_CERT: '/c.pem',
        DSTACK_REGISTRY_AUTH_TLS_KEY: '/k.pem',
      },
      {},
    );
    expect(config.adminToken?.reveal()).toBe('admin-token-0123456789abcdef');
    expect(String(config.adminToken)).toBe('[redacted]');
    expect(config.tls).toEqual({ certFile: '/c.pem', keyFile: '/k.pem' });
    expect(config.publicUrl).toBe('https://127.0.0.1:8480');
  });

  it('reads further registries from the file, with passwordEnv, projects and mirror', async () => {
    const path = await configFile({
      registries: [
        {
          registry: 'ghcr.io',
          source: 'static',
          username: 'bot',
          passwordEnv: 'GHCR_TOKEN',
          projects: ['ml'],
          credentialTtl: '2m',
        },
        {
          registry: 'cache.example:5000',
          source: 'issuer',
          mirror: true,
          service: 'cache',
          repositories: ['library/*'],
          anonymousPull: true,
        },
      ],
    });
    const config = await loadServiceConfig({ DSTACK_REGISTRY_AUTH_CONFIG: path, GHCR_TOKEN: 'ghcr-secret' }, {});
    expect(config.registries).toHaveLength(2);
    expect(config.registries[0]).toMatchObject({
      key: 'ghcr.io',
      projects: ['ml'],
      aliases: [],
      static: { username: 'bot', ttlSeconds: 120 },
    });
    expect(config.registries[0]!.static!.password.reveal()).toBe('ghcr-secret');
    expect(config.registries[1]).toMatchObject({
      key: 'cache.example:5000',
      aliases: [DOCKER_HUB_KEY],
      mirrorUrl: 'https://cache.example:5000',
      issuer: { service: 'cache', anonymousPull: true, repositories: { '*': ['library/*'] } },
    });
  });

  it.each([
    ['not json', 'not valid JSON'],
    [{ lisen: '1.2.3.4:5' }, 'lisen'],
    [{ registries: [{ registry: 'r.example' }] }, 'registries[0].source'],
    [
      { registries: [{ registry: 'r.example', source: 'static', username: 'u', pasword: 'p' }] },
      'registries[0].pasword',
    ],
    [{ registries: [{ registry: 'r.example', source: 'static', username: 'u' }] }, 'registries[0]'],
    [
      { registries: [{ registry: 'r.example', source: 'static', username: 'u', passwordEnv: 'UNSET_VAR_X' }] },
      'UNSET_VAR_X',
    ],
    [{ registries: [{ registry: 'docker.io', source: 'issuer' }] }, 'registries[0].source'],
    [
      {
        registries: [
          { registry: 'a.example', source: 'issuer', mirror: true },
          { registry: 'b.example', source: 'issuer', mirror: true },
        ],
      },
      'registries[1]',
    ],
    [{ registries: [{ registry: 'a.example', source: 'issuer', ticketTtl: 'soon' }] }, 'ticketTtl'],
    [{ plainHttp: 'yes' }, 'plainHttp'],
  ])('rejects a bad file (%j) naming %s', async (content, name) => {
    const path = await configFile(content);
    const error = await configRefusal(loadServiceConfig({ DSTACK_REGISTRY_AUTH_CONFIG: path }, {}));
    expect(error.message).toContain(name);
    expect(error.message).toContain('DSTACK_REGISTRY_AUTH_CONFIG');
  });

  it('rejects a file registry that claims the default registry key', async () => {
    const path = await configFile({ registries: [{ registry: 'https://docker.mycompany.example', source: 'issuer' }] });
    const error = await configRefusal(
      loadServiceConfig(
        { DSTACK_REGISTRY_AUTH_CONFIG: path, DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'docker.mycompany.example' },
        {},
      ),
    );
    expect(error.message).toContain('docker.mycompany.example');
  });

  it('refuses two issuer registries sharing a token service, naming both and the setting', async () => {
    const path = await configFile({
      registries: [
        { registry: 'a.example', source: 'issuer', service: 'shared', projects: ['A'] },
        { registry: 'b.example', source: 'issuer', service: 'shared', projects: ['B'] },
      ],
    });
    const error = await configRefusal(loadServiceConfig({ DSTACK_REGISTRY_AUTH_CONFIG: path }, {}));
    expect(error.message).toContain('registries[1].service');
    expect(error.message).toContain('a.example');
    expect(error.message).toContain('b.example');
    expect(error.message).toContain('"shared"');
    expect(error.message).not.toContain('\n');
  });

  it("refuses a file issuer registry whose service is the default registry's (implicit) service", async () => {
    const path = await configFile({
      registries: [{ registry: 'b.example', source: 'issuer', service: 'docker.mycompany.example' }],
    });
    const error = await configRefusal(
      loadServiceConfig(
        {
          DSTACK_REGISTRY_AUTH_CONFIG: path,
          DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'docker.mycompany.example',
          DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'issuer',
        },
        {},
      ),
    );
    expect(error.message).toMatch(
      /registries\[0\]\.service: .*b\.example.*docker\.mycompany\.example.*DSTACK_REGISTRY_AUTH_DEFAULT_SERVICE/,
    );
  });

  it('accepts distinct services, and a static registry next to an issuer one', async () => {
    const path = await configFile({
      registries: [
        { registry: 'a.example', source: 'issuer', service: 'svc-a' },
        { registry: 'b.example', source: 'issuer', service: 'svc-b' },
        { registry: 'c.example', source: 'static', username: 'u', password: 'p' },
      ],
    });
    expect(
      (await loadServiceConfig({ DSTACK_REGISTRY_AUTH_CONFIG: path }, {})).registries.map((r) => r.issuer?.service),
    ).toEqual(['svc-a', 'svc-b', undefined]);
  });

  it('caps the instance token lifetime setting at 365d, naming the setting', async () => {
    const error = await configRefusal(loadServiceConfig({ DSTACK_REGISTRY_AUTH_INSTANCE_TOKEN_TTL: '999999999d' }, {}));
    expect(error.message).toMatch(/^DSTACK_REGISTRY_AUTH_INSTANCE_TOKEN_TTL: .*365d/);
    expect(
      (await loadServiceConfig({ DSTACK_REGISTRY_AUTH_INSTANCE_TOKEN_TTL: '365d' }, {})).instanceTokenTtlSeconds,
    ).toBe(365 * 86_400);
  });

  it('names a missing config file', async () => {
    const error = await configRefusal(
      loadServiceConfig({ DSTACK_REGISTRY_AUTH_CONFIG: '/nonexistent/config.json' }, {}),
    );
    expect(error.message).toContain('/nonexistent/config.json');
  });
});

describe('assertTransportAllowed', () => {
  it('allows plain HTTP on loopback, refuses it elsewhere unless --plain-http or TLS', async () => {
    for (const listen of ['127.0.0.1:0', 'localhost:8480', '[::1]:8480']) {
      const config = await loadServiceConfig({}, { listen });
      expect(() => assertTransportAllowed(config)).not.toThrow();
    }
    const open = await loadServiceConfig({}, { listen: '0.0.0.0:8480' });
    expect(() => assertTransportAllowed(open)).toThrow(/--plain-http/);
    expect(() => assertTransportAllowed({ ...open, plainHttp: true })).not.toThrow();
    expect(() => assertTransportAllowed({ ...open, tls: { certFile: 'c', keyFile: 'k' } })).not.toThrow();
  });
});
