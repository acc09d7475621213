import { CodedError } from '../../common/errors.ts';
import { isLoopbackHost } from '../../registry/loopback.ts';
import { DEFAULT_MIRROR_LISTEN } from '../mirror/server/default-listen.ts';
import { redactUrl } from '../../common/redact-url.ts';

// Where the engines find the host-local mirror endpoint unless told otherwise: the address
// `docker-credential-dstack mirror` and its systemd socket listen on.
export const DEFAULT_ENDPOINT_URL = `http://${DEFAULT_MIRROR_LISTEN}`;

// What the command line says about the endpoint: use it (at this URL), do not, or follow the
// fleet default from the server's host config.
export type EndpointChoice = { kind: 'on'; url: string } | { kind: 'off' } | { kind: 'fleet' };

export const ENDPOINT_USAGE = `  --mirror-endpoint[=URL]   point the engines at the host-local mirror endpoint (default URL ${DEFAULT_ENDPOINT_URL})
  --no-mirror-endpoint      point them at the mirrors themselves (default: the server's endpoint.enabled)
`;

// `--mirror-endpoint` takes an optional value, which node's parseArgs cannot express: these
// flags are taken out of argv before it, and the rest is parsed as usual.
export function takeEndpointFlags(argv: string[]): { rest: string[]; choice: EndpointChoice } {
  let choice: EndpointChoice = { kind: 'fleet' };
  const rest: string[] = [];
  for (const arg of argv) {
    if (arg === '--') {
      rest.push(...argv.slice(argv.indexOf(arg)));
      break;
    }
    if (arg === '--mirror-endpoint') choice = { kind: 'on', url: DEFAULT_ENDPOINT_URL };
    else if (arg.startsWith('--mirror-endpoint='))
      choice = { kind: 'on', url: endpointUrl(arg.slice('--mirror-endpoint='.length)) };
    else if (arg === '--no-mirror-endpoint') choice = { kind: 'off' };
    else rest.push(arg);
  }
  return { rest, choice };
}

// The endpoint as the engines name it: plain http on a loopback address with a port (dockerd
// takes loopback http mirrors without insecure-registries; the endpoint serves nothing else).
// `127.0.0.1:8484` without a scheme is taken as http.
export function endpointUrl(input: string): string {
  const raw = input.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalid(raw, `not a URL; e.g. ${DEFAULT_ENDPOINT_URL}`);
  }
  if (url.protocol !== 'http:') throw invalid(raw, 'the endpoint serves plain http on loopback; use http://');
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '')
    throw invalid(raw, 'no credentials, query or fragment');
  if (url.pathname !== '/' && url.pathname !== '')
    throw invalid(raw, 'no path: the engines ask the endpoint for /v2/…');
  if (!isLoopbackHost(url.hostname))
    throw invalid(raw, 'the engines reach the endpoint on this host: use a loopback address such as 127.0.0.1');
  if (url.port === '') throw invalid(raw, `name the port, e.g. ${DEFAULT_ENDPOINT_URL}`);
  return `http://${url.host}`;
}

function invalid(raw: string, why: string): CodedError {
  return new CodedError('usage', `--mirror-endpoint "${redactUrl(raw).slice(0, 100)}": ${why}`);
}
