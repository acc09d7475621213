import { CodedError } from '../../common/errors.ts';
import { isLoopbackHost } from '../../registry/loopback.ts';
import { printable } from '../../common/printable.ts';
import { redactUrl } from '../../common/redact-url.ts';

// Where the service listens, as the helper reaches it.
export type ServerTarget =
  | { kind: 'tcp'; protocol: 'https:' | 'http:'; hostname: string; port: number; basePath: string; display: string }
  | { kind: 'unix'; socketPath: string; basePath: ''; display: string };

// Parses DOCKER_CREDENTIAL_DSTACK_SERVER: https://host[:port][/base], http:// on loopback
// only (plain HTTP carries the instance token in clear text), or unix:/path/to.sock (the far end of an SSH reverse tunnel).
export function parseServerUrl(text: string): ServerTarget {
  const raw = text.trim();
  if (raw.startsWith('unix:')) {
    const socketPath = raw.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
    if (!socketPath.startsWith('/'))
      throw invalid(raw, 'a unix socket needs an absolute path, e.g. unix:/run/dstack-registry-auth.sock');
    return { kind: 'unix', socketPath, basePath: '', display: `unix:${socketPath}` };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(raw, 'it is not a URL; use https://host[:port], http://127.0.0.1:port or unix:/path/to.sock');
  }
  if (url.username || url.password)
    throw invalid(raw, 'credentials in the server URL are not allowed; the instance token file authenticates the host');
  if (url.search || url.hash) throw invalid(raw, 'a query or fragment is not allowed');
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw invalid(raw, `scheme ${url.protocol} is not supported; use https://, http:// (loopback only) or unix:`);
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw invalid(
      raw,
      `plain http:// would send the instance token in clear text to ${url.hostname}; use https:// (http:// is allowed only for loopback hosts)`,
    );
  }
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const basePath = url.pathname.replace(/\/+$/, '');
  const display = `${url.protocol}//${url.host}${basePath}`;
  return {
    kind: 'tcp',
    protocol: url.protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port,
    basePath,
    display,
  };
}

function invalid(raw: string, why: string): CodedError {
  return new CodedError('server_url_invalid', `invalid dstack server URL "${printable(redactUrl(raw))}": ${why}`);
}
