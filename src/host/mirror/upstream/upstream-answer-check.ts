import type { IncomingMessage } from 'node:http';
import { MirrorError } from './registry-error.ts';
import { checkLocation, describeLocationProblem } from './redirect-target.ts';
import type { Upstream } from './upstream.ts';

// What an upstream's successful answer may not carry to the engine, checked before the engine
// sees a byte; undefined when it may pass.
//
// Content-Encoding: the endpoint asks with `Accept-Encoding: identity` and refuses any other
// encoding rather than pass the header on or decode. Registry bodies are digested byte for
// byte (the engine checks a manifest's and a blob's digest against the bytes it gets),
// Content-Length and Range count the bytes as sent, and layers are compressed already; a
// gzip-encoded answer is a proxy in front of the registry compressing on its own, and passing
// it on (with the header or without) would have the engine verify or store other bytes than
// the registry's.
//
// Location (a redirect to object storage): see redirect-target.ts.
export function answerRefusal(
  response: IncomingMessage,
  status: number,
  upstream: Upstream,
  url: URL,
): MirrorError | undefined {
  const encoding = headerText(response.headers['content-encoding']).trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity') {
    return new MirrorError(
      502,
      'UNAVAILABLE',
      'upstream_encoding',
      `upstream ${upstream.url} answered with Content-Encoding: ${encoding.slice(0, 40)} although asked for identity: the endpoint passes registry bodies byte for byte and refuses encoded ones; turn compression off for the registry API in the upstream (or the proxy in front of it)`,
    );
  }
  if (status >= 300 && status < 400 && response.headers.location !== undefined) {
    const verdict = checkLocation(response.headers.location, url, upstream.origin);
    if (!verdict.ok)
      return new MirrorError(
        502,
        'UNAVAILABLE',
        'upstream_location',
        `upstream ${upstream.url} redirected to ${verdict.shown}, which ${describeLocationProblem(verdict.problem)}: refused, the engine is not sent there; check the upstream's storage redirect settings`,
      );
  }
  return undefined;
}

function headerText(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}
