import { describe, expect, it } from 'vitest';
import { libraryCandidates, parseUpstream, upstreamRepositories } from '../../../src/host/mirror/upstream/upstream.ts';
import { upstreamsFromHostConfig } from '../../../src/host/mirror/upstream/upstream-source.ts';
import type { Diagnostics } from '../../../src/host/credentials/diagnostics.ts';
import { DOCKER_HUB_KEY } from '../../../src/registry/registry-key.ts';

const silentDiagnostics: Diagnostics = { debug() {}, warn() {} };

describe('parseUpstream', () => {
  it('keeps scheme, host and port; a path is a repository namespace; the key is the host', () => {
    expect(parseUpstream('https://harbor.example/dockerhub-proxy/')).toEqual({
      url: 'https://harbor.example/dockerhub-proxy',
      origin: 'https://harbor.example',
      prefix: 'dockerhub-proxy',
      registry: 'harbor.example',
      library: 'keep',
    });
    expect(parseUpstream('http://127.0.0.1:5000', { library: 'strip' })).toEqual({
      url: 'http://127.0.0.1:5000',
      origin: 'http://127.0.0.1:5000',
      prefix: '',
      registry: '127.0.0.1:5000',
      library: 'strip',
    });
    expect(parseUpstream('https://registry-1.docker.io').registry).toBe(DOCKER_HUB_KEY);
    expect(parseUpstream('https://mirror.example', { registry: 'other.example' }).registry).toBe('other.example');
  });

  it.each([
    ['http://mirror.example', /plain http:\/\/ would send the registry credential in clear text; use https:\/\//],
    ['https://user:pw@mirror.example', /credentials in the URL are not allowed; remove them/],
    ['https://mirror.example?x=1', /a query or fragment/],
    ['ftp://mirror.example', /scheme ftp:\/\/ is not allowed; use https:\/\//],
    ['mirror.example', /not a URL/],
    ['https://mirror.example/Proxy', /is not a repository namespace/],
  ])('refuses %s', (url, message) => {
    expect(() => parseUpstream(url)).toThrow(message);
  });

  // Through the one rule (src/common/redact-url.ts): user info runs to the LAST '@', so a
  // password holding '/' or '@' is hidden whole (the hand-written regex it replaced stopped at '/').
  it('never echoes credentials of a refused URL, a password with "/" or "@" included', () => {
    expect(() => parseUpstream('https://user:s3cret@mirror.example')).toThrow(
      'invalid upstream URL "https://***@mirror.example": credentials in the URL are not allowed; remove them (the endpoint fetches them from the dstack server)',
    );
    for (const url of ['https://user:Qx/Zy@mirror.example', 'https://user:Qx@Wv/Zy@mirror.example/ns']) {
      const message = (() => {
        try {
          parseUpstream(url);
        } catch (error) {
          return (error as Error).message;
        }
        return '';
      })();
      expect(message).toMatch(/^invalid upstream URL "https:\/\/\*\*\*@mirror\.example(\/ns)?": /);
      expect(message).not.toMatch(/Qx|Wv|Zy|user/);
    }
  });
});

describe('library/ handling', () => {
  it('keep, strip, both', () => {
    expect(libraryCandidates('library/python', 'keep')).toEqual(['library/python']);
    expect(libraryCandidates('library/python', 'strip')).toEqual(['python']);
    expect(libraryCandidates('library/python', 'both')).toEqual(['library/python', 'python']);
    expect(libraryCandidates('user/app', 'strip')).toEqual(['user/app']);
    expect(libraryCandidates('user/app', 'both')).toEqual(['user/app']);
    expect(libraryCandidates('library', 'strip')).toEqual(['library']);
  });

  it('a single-component name (local-name mode: 127.0.0.1:8484/python) is the official image library/<name>', () => {
    expect(libraryCandidates('python', 'keep')).toEqual(['library/python']);
    expect(libraryCandidates('python', 'strip')).toEqual(['python']);
    expect(libraryCandidates('python', 'both')).toEqual(['library/python', 'python']);
    expect(libraryCandidates('myteam/app', 'keep')).toEqual(['myteam/app']);
    expect(libraryCandidates('dstackai/base', 'both')).toEqual(['dstackai/base']);
    expect(libraryCandidates('myteam/sub/app', 'strip')).toEqual(['myteam/sub/app']);
    expect(upstreamRepositories(parseUpstream('https://h.example/proxy', { library: 'keep' }), 'ubuntu')).toEqual([
      'proxy/library/ubuntu',
    ]);
  });

  it('a path prefix goes before every candidate', () => {
    expect(
      upstreamRepositories(parseUpstream('https://h.example/proxy', { library: 'both' }), 'library/python'),
    ).toEqual(['proxy/library/python', 'proxy/python']);
  });
});

describe('upstreamsFromHostConfig', () => {
  const hub = ['https://index.docker.io/v1/'];
  it('the endpoint block first, with its registry keys and library settings', () => {
    const upstreams = upstreamsFromHostConfig(
      {
        mirrors: ['https://m.example'],
        registries: hub,
        endpoint: {
          enabled: true,
          upstreams: [{ url: 'https://h.example/proxy', registry: 'H.example', library: 'strip' }],
        },
      },
      silentDiagnostics,
    );
    expect(upstreams).toEqual([
      {
        url: 'https://h.example/proxy',
        origin: 'https://h.example',
        prefix: 'proxy',
        registry: 'h.example',
        library: 'strip',
      },
    ]);
  });

  it('else the engine mirrors, else Docker Hub when the service has its credentials, else none', () => {
    expect(
      upstreamsFromHostConfig(
        { mirrors: ['https://m.example'], registries: hub, endpoint: { enabled: false, upstreams: [] } },
        silentDiagnostics,
      ).map((u) => [u.url, u.registry]),
    ).toEqual([['https://m.example', 'm.example']]);
    expect(
      upstreamsFromHostConfig(
        { mirrors: [], registries: hub, endpoint: { enabled: false, upstreams: [] } },
        silentDiagnostics,
      ).map((u) => [u.url, u.registry]),
    ).toEqual([['https://registry-1.docker.io', DOCKER_HUB_KEY]]);
    expect(
      upstreamsFromHostConfig(
        { mirrors: [], registries: ['ghcr.io'], endpoint: { enabled: false, upstreams: [] } },
        silentDiagnostics,
      ),
    ).toEqual([]);
  });

  it('skips an upstream it cannot use, with a warning', () => {
    const warnings: string[] = [];
    const upstreams = upstreamsFromHostConfig(
      {
        mirrors: [],
        registries: [],
        endpoint: {
          enabled: true,
          upstreams: [
            { url: 'http://far.example', registry: 'far.example', library: 'keep' },
            { url: 'https://ok.example', registry: 'ok.example', library: 'keep' },
          ],
        },
      },
      { debug() {}, warn: (m) => warnings.push(m) },
    );
    expect(upstreams.map((u) => u.url)).toEqual(['https://ok.example']);
    expect(warnings).toEqual([
      expect.stringMatching(
        /^ignoring upstream from the host config: invalid upstream URL "http:\/\/far\.example": plain http/,
      ),
    ]);
  });
});
