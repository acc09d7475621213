import { describe, expect, it } from 'vitest';
import { engineResponseHeaders, upstreamRequestHeaders } from '../../../src/host/mirror/forwarding/forward-headers.ts';

const context = (status: number) => ({
  status,
  url: new URL('https://up.example/v2/proxy/library/python/blobs/sha256:x'),
  engineRepository: 'library/python',
  upstreamRepository: 'proxy/library/python',
});

describe('header filtering', () => {
  it("sends upstream only what a pull needs: never the engine's Authorization or cookies", () => {
    expect(
      upstreamRequestHeaders({
        accept: 'application/vnd.oci.image.index.v1+json',
        range: 'bytes=0-9',
        'if-none-match': '"x"',
        authorization: 'Basic ZW5naW5l',
        cookie: 'a=b',
        'x-forwarded-for': '1.2.3.4',
        host: '127.0.0.1:8484',
        'user-agent': 'docker/20.10',
        connection: 'keep-alive',
      }),
    ).toEqual({
      'accept-encoding': 'identity',
      accept: 'application/vnd.oci.image.index.v1+json',
      range: 'bytes=0-9',
      'if-none-match': '"x"',
    });
  });

  it('gives the engine the content headers, never WWW-Authenticate or Set-Cookie', () => {
    const headers = engineResponseHeaders(
      {
        'content-length': '42',
        'content-type': 'application/octet-stream',
        'docker-content-digest': 'sha256:x',
        etag: '"sha256:x"',
        'accept-ranges': 'bytes',
        'content-range': 'bytes 0-9/42',
        'www-authenticate': 'Bearer realm="https://auth.example/token?secret=1"',
        'set-cookie': ['s=1'],
        connection: 'keep-alive',
        'x-registry-internal': 'y',
      },
      context(200),
    );
    expect(headers).toEqual({
      'docker-distribution-api-version': 'registry/2.0',
      'content-length': '42',
      'content-type': 'application/octet-stream',
      'docker-content-digest': 'sha256:x',
      etag: '"sha256:x"',
      'accept-ranges': 'bytes',
      'content-range': 'bytes 0-9/42',
    });
  });

  it("passes a redirect's Location as is, made absolute; never on a non-redirect", () => {
    expect(
      engineResponseHeaders({ location: 'https://bucket.s3.example/blob?X-Amz-Signature=abc' }, context(307)).location,
    ).toBe('https://bucket.s3.example/blob?X-Amz-Signature=abc');
    expect(engineResponseHeaders({ location: '/blobs/elsewhere' }, context(302)).location).toBe(
      'https://up.example/blobs/elsewhere',
    );
    expect(engineResponseHeaders({ location: 'javascript:alert(1)' }, context(302)).location).toBeUndefined();
    expect(engineResponseHeaders({ location: 'https://x.example' }, context(200)).location).toBeUndefined();
  });

  it('rewrites tags/list pagination to the name the engine asked for; drops other links', () => {
    expect(
      engineResponseHeaders({ link: '</v2/proxy/library/python/tags/list?last=3.13&n=100>; rel="next"' }, context(200))
        .link,
    ).toBe('</v2/library/python/tags/list?last=3.13&n=100>; rel="next"');
    expect(
      engineResponseHeaders(
        { link: '<https://evil.example/v2/proxy/library/python/tags/list>; rel="next"' },
        context(200),
      ).link,
    ).toBeUndefined();
    expect(engineResponseHeaders({ link: '</v2/other/tags/list?n=1>; rel="next"' }, context(200)).link).toBeUndefined();
  });
});
