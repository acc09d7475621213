import { CodedError } from '../common/errors.ts';
import { printable } from '../common/printable.ts';
import { redactUrl } from '../common/redact-url.ts';

// The key Docker clients use for Docker Hub: the docker CLI, compose and buildx send it to
// a credential helper exactly like this, and it is the key in config.json's credHelpers.
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

const HOST_PORT =
  /^(?:\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)(?::(\d{1,5}))?$/;

// One registry key for what clients send and what the server is configured with:
// Docker Hub in any spelling becomes DOCKER_HUB_KEY; any other registry becomes its
// lower-case `host[:port]`, without scheme, path or trailing slash. Both sides of the
// contract call this, so a key the helper sends is a key the server knows.
export function normalizeRegistryKey(input: string): string {
  const raw = input.trim();
  if (raw === '')
    throw new CodedError(
      'registry_key_empty',
      'empty registry key: pass a registry host such as docker.mycompany.example',
    );
  let rest = raw;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name !== 'http' && name !== 'https') throw invalid(raw, `scheme ${name}:// is not a registry scheme`);
    rest = rest.slice(scheme[0].length);
  }
  const slash = rest.indexOf('/');
  const hostPort = (slash === -1 ? rest : rest.slice(0, slash)).toLowerCase();
  if (hostPort.includes('@')) throw invalid(raw, 'credentials in a registry key are not allowed');
  const match = HOST_PORT.exec(hostPort);
  if (!match) throw invalid(raw, 'it is not host[:port]');
  const port = match[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535))
    throw invalid(raw, `port ${port} is out of range`);
  const host = port === undefined ? hostPort : hostPort.slice(0, -(port.length + 1));
  if (DOCKER_HUB_HOSTS.has(host) && (port === undefined || port === '443')) return DOCKER_HUB_KEY;
  return hostPort;
}

export function isDockerHubKey(key: string): boolean {
  return key === DOCKER_HUB_KEY;
}

// The host that actually serves a registry key over HTTP (Docker Hub's API host differs from its key).
export function registryApiHost(key: string): string {
  return isDockerHubKey(key) ? 'registry-1.docker.io' : key;
}

function invalid(raw: string, why: string): CodedError {
  return new CodedError(
    'registry_key_invalid',
    `invalid registry key "${printable(redactUrl(raw))}": ${why}; use host[:port] or ${DOCKER_HUB_KEY}`,
  );
}
