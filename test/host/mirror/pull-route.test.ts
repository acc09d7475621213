import { describe, expect, it } from 'vitest';
import { routeRequest } from '../../../src/host/mirror/forwarding/pull-route.ts';
import { MirrorError } from '../../../src/host/mirror/upstream/registry-error.ts';

const DIGEST = `sha256:${'0'.repeat(64)}`;

function refusal(method: string, path: string): { status: number; code: string } {
  try {
    routeRequest(method, path);
  } catch (error) {
    if (error instanceof MirrorError) return { status: error.status, code: error.code };
    throw error;
  }
  throw new Error(`${method} ${path} was routed`);
}

describe('routeRequest', () => {
  it('routes the pull subset', () => {
    expect(routeRequest('GET', '/v2/')).toEqual({ kind: 'ping' });
    expect(routeRequest('HEAD', '/v2')).toEqual({ kind: 'ping' });
    expect(routeRequest('GET', '/v2/library/python/manifests/3.14')).toEqual({
      kind: 'manifest',
      repository: 'library/python',
      reference: '3.14',
    });
    expect(routeRequest('HEAD', `/v2/library/python/manifests/${DIGEST}`)).toEqual({
      kind: 'manifest',
      repository: 'library/python',
      reference: DIGEST,
    });
    expect(routeRequest('GET', `/v2/a/b/c/blobs/${DIGEST}`)).toEqual({
      kind: 'blob',
      repository: 'a/b/c',
      reference: DIGEST,
    });
    expect(routeRequest('GET', '/v2/library/python/tags/list')).toEqual({
      kind: 'tags',
      repository: 'library/python',
      reference: '',
      query: '',
    });
  });

  it('a name may contain the words manifests, blobs and tags', () => {
    expect(routeRequest('GET', '/v2/manifests/manifests/manifests/1')).toEqual({
      kind: 'manifest',
      repository: 'manifests/manifests',
      reference: '1',
    });
    expect(routeRequest('GET', `/v2/blobs/tags/blobs/${DIGEST}`)).toMatchObject({
      kind: 'blob',
      repository: 'blobs/tags',
    });
  });

  it('keeps only n and last of a tags/list query', () => {
    expect(routeRequest('GET', '/v2/x/tags/list?n=10&last=v1&evil=1')).toMatchObject({ query: 'n=10&last=v1' });
    expect(routeRequest('GET', '/v2/x/tags/list?n=lots&last=a/b')).toMatchObject({ query: '' });
  });

  it('answers its own paths', () => {
    expect(routeRequest('GET', '/healthz')).toEqual({ kind: 'healthz' });
    expect(routeRequest('GET', '/metrics')).toEqual({ kind: 'metrics' });
    expect(routeRequest('GET', '/_dstack/probe?repository=library/x')).toMatchObject({ kind: 'probe' });
    expect(refusal('POST', '/metrics')).toEqual({ status: 405, code: 'UNSUPPORTED' });
  });

  it.each([
    ['PUT', '/v2/library/python/manifests/3.14', 405, 'UNSUPPORTED'],
    ['DELETE', `/v2/library/python/blobs/${DIGEST}`, 405, 'UNSUPPORTED'],
    ['POST', '/v2/library/python/blobs/uploads/', 405, 'UNSUPPORTED'],
    ['GET', '/v2/library/python/blobs/uploads/abc', 405, 'UNSUPPORTED'],
    ['PATCH', '/v2/library/python/blobs/uploads/abc', 405, 'UNSUPPORTED'],
    ['POST', '/v2/', 405, 'UNSUPPORTED'],
    ['GET', '/v2/_catalog', 404, 'UNSUPPORTED'],
    ['GET', '/v2/_catalog?n=100', 404, 'UNSUPPORTED'],
    ['GET', '/v2/library/python/referrers/x', 404, 'UNSUPPORTED'],
    ['GET', '/', 404, 'UNSUPPORTED'],
    ['GET', '/v1/search', 404, 'UNSUPPORTED'],
    ['GET', '/v2/Library/python/manifests/1', 400, 'NAME_INVALID'],
    ['GET', '/v2/library/../python/manifests/1', 400, 'NAME_INVALID'],
    ['GET', '/v2/library/%2e%2e/python/manifests/1', 400, 'NAME_INVALID'],
    ['GET', '/v2/library%2Fpython/manifests/1', 400, 'NAME_INVALID'],
    ['GET', '/v2//python/manifests/1', 400, 'NAME_INVALID'],
    ['GET', '/v2/library/python/manifests/.1', 400, 'TAG_INVALID'],
    ['GET', '/v2/library/python/blobs/latest', 400, 'DIGEST_INVALID'],
    ['GET', '/v2/library/python/blobs/sha256:xyz', 400, 'DIGEST_INVALID'],
  ])('%s %s → %i %s', (method, path, status, code) => {
    expect(refusal(method, path)).toEqual({ status, code });
  });
});
