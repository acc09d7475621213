import { DEFAULT_MIRROR_LISTEN } from '../mirror/server/default-listen.ts';
import { inSetting, validateMirrorEndpointUrl } from '../../registry/url-rules.ts';

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
  return inSetting('--mirror-endpoint', () => validateMirrorEndpointUrl(input, DEFAULT_ENDPOINT_URL), 'usage');
}
