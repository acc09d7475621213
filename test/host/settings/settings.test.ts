import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultCacheDir, loadHelperSettings, readHelperSettings } from '../../../src/host/settings/settings.ts';
import { parseTimeoutMs } from '../../../src/host/settings/timeout-setting.ts';
import { isCodedError } from '../../../src/common/errors.ts';

let dir: string;
let config: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dcd-settings-'));
  config = join(dir, 'config.json');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('loadHelperSettings', () => {
  it('reads the config file and lets the environment override each key', async () => {
    await writeFile(
      config,
      JSON.stringify({
        server: 'https://file.example',
        tokenFile: '/file/token',
        cacheDir: '/file/cache',
        onError: 'anonymous',
        caFile: '/file/ca.pem',
        timeoutMs: 2500,
        logFile: '/file/log',
      }),
    );
    const fromFile = await loadHelperSettings({ DOCKER_CREDENTIAL_DSTACK_CONFIG: config });
    expect(fromFile).toMatchObject({
      server: 'https://file.example',
      tokenFile: '/file/token',
      cacheDir: '/file/cache',
      onError: 'anonymous',
      caFile: '/file/ca.pem',
      timeoutMs: 2500,
      logFile: '/file/log',
      debug: false,
      configPath: config,
    });
    const env = await loadHelperSettings({
      DOCKER_CREDENTIAL_DSTACK_CONFIG: config,
      DOCKER_CREDENTIAL_DSTACK_SERVER: 'unix:/run/dstack.sock',
      DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: '/env/token',
      DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: '/env/cache',
      DOCKER_CREDENTIAL_DSTACK_ON_ERROR: 'fail',
      DOCKER_CREDENTIAL_DSTACK_CA_FILE: '/env/ca.pem',
      DOCKER_CREDENTIAL_DSTACK_TIMEOUT: '1.5s',
      DOCKER_CREDENTIAL_DSTACK_DEBUG: '1',
      DOCKER_CREDENTIAL_DSTACK_LOG_FILE: '/env/log',
      DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE_UNUSED: 'x',
    });
    expect(env).toMatchObject({
      server: 'unix:/run/dstack.sock',
      tokenFile: '/env/token',
      cacheDir: '/env/cache',
      onError: 'fail',
      caFile: '/env/ca.pem',
      timeoutMs: 1500,
      debug: true,
      logFile: '/env/log',
    });
    // doctor names where the server came from: the file, or the variable over it
    expect(fromFile).toMatchObject({ serverFrom: config, configFound: true });
    expect(env).toMatchObject({ serverFrom: 'DOCKER_CREDENTIAL_DSTACK_SERVER', configFound: true });
  });

  it('defaults: token file, 5 s timeout, fail policy; empty variables count as unset', async () => {
    const settings = await loadHelperSettings({
      DOCKER_CREDENTIAL_DSTACK_CONFIG: '',
      DOCKER_CREDENTIAL_DSTACK_SERVER: 'https://dstack.example',
      DOCKER_CREDENTIAL_DSTACK_ON_ERROR: '',
      XDG_RUNTIME_DIR: '/run/user/1000',
    });
    expect(settings).toMatchObject({
      tokenFile: '/etc/docker-credential-dstack/token',
      timeoutMs: 5000,
      onError: 'fail',
      configPath: '/etc/docker-credential-dstack/config.json',
      serverFrom: 'DOCKER_CREDENTIAL_DSTACK_SERVER',
      configFound: false,
    });
  });

  it('no server is not_configured; list/erase may go without one', async () => {
    const error = await loadHelperSettings({ DOCKER_CREDENTIAL_DSTACK_CONFIG: join(dir, 'absent.json') }).catch(
      (e: unknown) => e,
    );
    expect(isCodedError(error, 'config_unreadable')).toBe(true); // an explicit config path must exist
    const missing = await loadHelperSettings({}).catch((e: unknown) => e);
    expect(isCodedError(missing, 'not_configured')).toBe(true);
    expect(readHelperSettings({}, { requireServer: false }).server).toBe('');
  });

  it.each([
    ['http://dstack.example', /plain http:\/\/ would send the instance token in clear text/],
    ['ftp://dstack.example', /scheme ftp:\/\/ is not allowed/],
    [
      'https://user:pw@dstack.example',
      /credentials in the URL are not allowed; remove them \(the instance token file authenticates the host\)/,
    ],
    ['unix:relative.sock', /absolute path/],
    ['not a url', /not a URL/],
  ])('rejects server %s', async (server, message) => {
    await expect(loadHelperSettings({ DOCKER_CREDENTIAL_DSTACK_SERVER: server })).rejects.toThrow(message);
  });

  it.each(['http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080', 'https://dstack.example/base/'])(
    'accepts server %s',
    async (server) => {
      expect((await loadHelperSettings({ DOCKER_CREDENTIAL_DSTACK_SERVER: server })).server).toBe(server);
    },
  );

  it('rejects a bad failure policy, bad JSON, and wrongly typed keys', async () => {
    await expect(
      loadHelperSettings({
        DOCKER_CREDENTIAL_DSTACK_SERVER: 'https://d.example',
        DOCKER_CREDENTIAL_DSTACK_ON_ERROR: 'ignore',
      }),
    ).rejects.toThrow(/use fail or anonymous/);
    await writeFile(config, '{bad');
    await expect(loadHelperSettings({ DOCKER_CREDENTIAL_DSTACK_CONFIG: config })).rejects.toThrow(/not valid JSON/);
    await writeFile(config, JSON.stringify({ server: 42 }));
    await expect(loadHelperSettings({ DOCKER_CREDENTIAL_DSTACK_CONFIG: config })).rejects.toThrow(
      /"server" .* must be a string/,
    );
  });

  it('refuses relative paths, naming the setting: the helper runs from any directory', async () => {
    await expect(
      loadHelperSettings({
        DOCKER_CREDENTIAL_DSTACK_SERVER: 'https://d.example',
        DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: 'cache',
      }),
    ).rejects.toThrow(/^DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: "cache" is a relative path; use an absolute one/);
    await expect(
      loadHelperSettings({
        DOCKER_CREDENTIAL_DSTACK_SERVER: 'https://d.example',
        DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: './token',
      }),
    ).rejects.toThrow(/^DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: "\.\/token" is a relative path/);
    await writeFile(config, JSON.stringify({ server: 'https://d.example', caFile: 'ca.pem' }));
    await expect(loadHelperSettings({ DOCKER_CREDENTIAL_DSTACK_CONFIG: config })).rejects.toThrow(
      /^"caFile" in .*config\.json: "ca\.pem" is a relative path/,
    );
    await writeFile(config, JSON.stringify({ server: 'https://d.example', logFile: 'helper.log' }));
    await expect(loadHelperSettings({ DOCKER_CREDENTIAL_DSTACK_CONFIG: config })).rejects.toThrow(
      /^"logFile" in .*: "helper\.log" is a relative path/,
    );
  });

  it('takes HTTPS_PROXY/NO_PROXY (either case) from the environment', async () => {
    const settings = await loadHelperSettings({
      DOCKER_CREDENTIAL_DSTACK_SERVER: 'https://d.example',
      https_proxy: 'http://proxy:3128',
      NO_PROXY: 'internal.example',
    });
    expect(settings.proxyEnv).toEqual({ HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'internal.example' });
    expect(
      (await loadHelperSettings({ DOCKER_CREDENTIAL_DSTACK_SERVER: 'https://d.example' })).proxyEnv,
    ).toBeUndefined();
  });
});

describe('defaultCacheDir', () => {
  it('is /run/… for root, else under XDG_RUNTIME_DIR, else /tmp/…-<uid>', () => {
    const uid = process.getuid?.() ?? 0;
    if (uid === 0) expect(defaultCacheDir({ XDG_RUNTIME_DIR: '/run/user/0' })).toBe('/run/docker-credential-dstack');
    else {
      expect(defaultCacheDir({ XDG_RUNTIME_DIR: '/run/user/1000' })).toBe('/run/user/1000/docker-credential-dstack');
      expect(defaultCacheDir({})).toBe(`/tmp/docker-credential-dstack-${uid}`);
    }
  });
});

describe('parseTimeoutMs', () => {
  it.each([
    ['5000', 5000],
    ['500ms', 500],
    ['5s', 5000],
    ['1.5s', 1500],
    ['1m', 60_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseTimeoutMs(text, 'T')).toBe(ms);
  });
  it.each(['0', '-1', 'soon', '11m', '5h'])('rejects %s', (text) => {
    expect(() => parseTimeoutMs(text, 'T')).toThrow(/T: .* is not a timeout/);
  });
});
