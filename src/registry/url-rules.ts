import type { ErrorCode } from '../common/error-code.ts';
import { CodedError, isCodedError } from '../common/errors.ts';
import { printable } from '../common/printable.ts';
import { redactUrl } from '../common/redact-url.ts';
import { repositoryProblem } from './distribution-grammar.ts';
import { isLoopbackHost } from './loopback.ts';

// The URL rules of the project, written once: every URL a person or a configuration gives
// (a mirror, an upstream, the dstack server, a service setting, the mirror endpoint) is
// checked here, by the validator of its kind, and refused in one style:
//
//   invalid <what> "<shown>": <why>; <what to do>
//
// `<shown>` is always the text as given, user info hidden (src/common/redact-url.ts: up to
// the LAST '@', so a password holding '/' or '@' is hidden whole) and printable; the why
// never echoes a part of the parsed URL but its scheme, so no piece of a misparsed password
// (`https://u:1234/x@host` parses with host "u") can show. A setting's name is attached one
// way, by inSetting(): `<setting>: invalid …`. Pure text: the helper's hot path loads this.

const SCHEME_SLASHES = /^[a-z][a-z0-9+.-]*:\/\//i;
const SHOWN_MAX_LENGTH = 120;
const LOOPBACK_ONLY = 'use https:// (http:// only for a loopback host such as 127.0.0.1)';

// The base rules a kind of URL picks from.
interface Rules {
  code: ErrorCode;
  what: string;
  // What to write instead, for a text that is not a URL or has another scheme.
  use: string;
  schemes: readonly ('https:' | 'http:')[];
  // dockerd reads `https:mirror.example` as a URL without a host: the `//` must be written.
  schemeSlashes?: boolean;
  // Why user info has no place in the URL (what supplies the credential instead).
  credentials: string;
  query: 'refuse' | 'allow';
  // Plain http off loopback: allowed, or refused with the harm it would do.
  plainHttp: 'anywhere' | { harm: string };
}

// The one formatter of a refusal.
function refusal(rules: Rules, raw: string, why: string): CodedError {
  return new CodedError(rules.code, `invalid ${rules.what} "${shownUrl(raw)}": ${why}`);
}

// A refusal of a URL of `kind` for a check of that kind's own options (an upstream's realms),
// so it reads like the rest.
export function urlRefusal(kind: UrlKind, raw: string, why: string): CodedError {
  return refusal(KINDS[kind], raw, why);
}

// A URL as a message may show it: user info hidden, printable, bounded.
export function shownUrl(raw: string): string {
  return printable(redactUrl(raw.trim()), SHOWN_MAX_LENGTH);
}

// The one way a setting's name is attached to a refusal: `<setting>: <message>`, under the
// setting's code (config_invalid for configuration, usage for a flag).
export function inSetting<T>(setting: string, check: () => T, code: ErrorCode = 'config_invalid'): T {
  try {
    return check();
  } catch (error) {
    if (isCodedError(error)) throw new CodedError(code, `${setting}: ${error.message}`, { cause: error });
    throw error;
  }
}

// Why a credential must not be sent to a URL, or undefined when it may: user info in the URL
// (a credential of its own), a scheme other than http(s), or plain http off loopback (the
// credential would cross the network in clear text). For URLs that come from elsewhere (a
// token realm a registry names), where the verdict, not a message, is wanted.
export type CredentialUrlProblem = 'credentials' | 'not_http' | 'plain_http';

// `text`, when given, is the URL as written: an '@' before its query is user info whatever the
// parser made of it (see checkBase).
export function credentialUrlProblem(url: URL, text?: string): CredentialUrlProblem | undefined {
  if (hasUserInfo(url) || (text !== undefined && userInfoInText(text))) return 'credentials';
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'not_http';
  if (isPlainHttpOffLoopback(url)) return 'plain_http';
  return undefined;
}

function hasUserInfo(url: URL): boolean {
  return url.username !== '' || url.password !== '';
}

function userInfoInText(text: string): boolean {
  return text.split(/[?#]/, 1)[0]!.includes('@');
}

function isPlainHttpOffLoopback(url: URL): boolean {
  return url.protocol === 'http:' && !isLoopbackHost(url.hostname);
}

// The base checks, in one order: parses, scheme, user info, query and fragment, host, plain
// http. `raw` is what the message shows; `text` what is parsed (the endpoint adds http://).
function checkBase(raw: string, rules: Rules, text = raw): URL {
  const refuse = (why: string): CodedError => refusal(rules, raw, why);
  if (rules.schemeSlashes && !SCHEME_SLASHES.test(text)) throw refuse(`a scheme is required; use ${rules.use}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw refuse(`it is not a URL; use ${rules.use}`);
  }
  if (!(rules.schemes as readonly string[]).includes(url.protocol)) {
    // The scheme is echoed only as written (`ftp://`): `user:pw@host` parses with the scheme `user:`.
    const written = SCHEME_SLASHES.exec(text)?.[0];
    throw refuse(
      written === undefined
        ? `it is not an ${rules.schemes.length === 1 ? 'http' : 'http(s)'} URL; use ${rules.use}`
        : `scheme ${written.toLowerCase()} is not allowed; use ${rules.use}`,
    );
  }
  // An '@' before any query is user info to redactUrl, whatever the parser made of it:
  // `https://u:1234/pw@host` parses as host `u`, port 1234, with the password in the path.
  if (hasUserInfo(url) || userInfoInText(text))
    throw refuse(`credentials in the URL are not allowed; remove them (${rules.credentials})`);
  if (rules.query === 'refuse' && (url.search !== '' || url.hash !== '' || /[?#]/.test(text)))
    throw refuse('a query or fragment is not allowed; remove the ?… or #… part');
  if (url.hostname === '') throw refuse(`the host is missing; use ${rules.use}`);
  if (rules.plainHttp !== 'anywhere' && isPlainHttpOffLoopback(url))
    throw refuse(`plain http:// would ${rules.plainHttp.harm}; ${LOOPBACK_ONLY}`);
  return url;
}

function withoutTrailingSlashes(path: string): string {
  return path.replace(/\/+$/, '');
}

// A registry mirror as dockerd accepts it in `registry-mirrors` (it refuses to start
// otherwise): http(s), the scheme written, no credentials, query or fragment. A path is kept
// (containerd and podman use it). Returned as scheme://host[:port][/path], no trailing slash;
// dockerd itself shows mirrors with one, so compare with sameMirror() (mirror-url.ts).
const MIRROR_URL: Rules = {
  code: 'mirror_invalid',
  what: 'mirror URL',
  use: 'https://host[:port][/path] or http://host[:port][/path]',
  schemes: ['https:', 'http:'],
  schemeSlashes: true,
  credentials: 'the helper supplies them',
  query: 'refuse',
  plainHttp: 'anywhere',
};

export function validateMirrorUrl(input: string): string {
  const url = checkBase(input.trim(), MIRROR_URL);
  return `${url.protocol}//${url.host}${withoutTrailingSlashes(url.pathname)}`;
}

// Where the mirror endpoint forwards pulls (`--upstream`, the host config's upstreams). Plain
// http only on loopback: the registry credential would otherwise cross the network in clear
// text. The path, if any, is a repository namespace (`https://harbor.example/dockerhub-proxy`:
// a Harbor proxy-cache project, an Artifactory remote repository), as podman and containerd
// read a mirror location.
const UPSTREAM_URL: Rules = {
  code: 'upstream_invalid',
  what: 'upstream URL',
  use: 'https://host[:port][/namespace], e.g. https://docker.mycompany.example',
  schemes: ['https:', 'http:'],
  credentials: 'the endpoint fetches them from the dstack server',
  query: 'refuse',
  plainHttp: { harm: 'send the registry credential in clear text' },
};

export interface UpstreamUrl {
  // origin plus `/prefix` when there is one.
  url: string;
  // scheme://host[:port]
  origin: string;
  // The repository namespace, no leading or trailing slash; '' for none.
  prefix: string;
  // host[:port] as URL.host writes it.
  host: string;
}

export function validateUpstreamUrl(input: string): UpstreamUrl {
  const raw = input.trim();
  const url = checkBase(raw, UPSTREAM_URL);
  const prefix = url.pathname.replace(/^\/+|\/+$/g, '');
  if (prefix !== '') {
    const problem = repositoryProblem(prefix);
    if (problem)
      throw refusal(
        UPSTREAM_URL,
        raw,
        `the path is not a repository namespace (${problem}); give the namespace as the path, e.g. /dockerhub-proxy, or none`,
      );
  }
  return { url: `${url.origin}${prefix === '' ? '' : `/${prefix}`}`, origin: url.origin, prefix, host: url.host };
}

// A registry's own API (the service's `upstream` setting): scheme, host and port only (`/v2/`
// is appended), and https unless the host is loopback: the broker reads the token realm it
// sends the password to from this URL's challenge, which a plain-HTTP path could rewrite.
// Returned as the origin.
const REGISTRY_API_URL: Rules = {
  code: 'config_invalid',
  what: 'registry API URL',
  use: 'https://host[:port]',
  schemes: ['https:', 'http:'],
  credentials: 'the broker sends the configured ones',
  query: 'refuse',
  plainHttp: { harm: 'let the network rewrite the token realm that the registry password is sent to' },
};

export function validateRegistryApiUrl(input: string): string {
  const raw = input.trim();
  const url = checkBase(raw, REGISTRY_API_URL);
  if (url.pathname !== '/' && url.pathname !== '')
    throw refusal(
      REGISTRY_API_URL,
      raw,
      'a path is not allowed; give scheme://host[:port] only (the registry API\'s origin; "/v2/" is added)',
    );
  return url.origin;
}

// Where the service listens, as the helper reaches it (DOCKER_CREDENTIAL_DSTACK_SERVER):
// https://host[:port][/base], http:// on loopback only (plain HTTP carries the instance token
// in clear text), or unix:/path/to.sock (the far end of an SSH reverse tunnel).
export type ServerTarget =
  | { kind: 'tcp'; protocol: 'https:' | 'http:'; hostname: string; port: number; basePath: string; display: string }
  | { kind: 'unix'; socketPath: string; basePath: ''; display: string };

const SERVER_URL: Rules = {
  code: 'server_url_invalid',
  what: 'dstack server URL',
  use: 'https://host[:port][/base], http://127.0.0.1:port or unix:/path/to.sock',
  schemes: ['https:', 'http:'],
  credentials: 'the instance token file authenticates the host',
  query: 'refuse',
  plainHttp: { harm: 'send the instance token in clear text' },
};

export function validateServerUrl(input: string): ServerTarget {
  const raw = input.trim();
  if (raw.startsWith('unix:')) {
    const socketPath = raw.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
    if (!socketPath.startsWith('/'))
      throw refusal(
        SERVER_URL,
        raw,
        'a unix socket needs an absolute path; use e.g. unix:/run/dstack-registry-auth.sock',
      );
    return { kind: 'unix', socketPath, basePath: '', display: `unix:${socketPath}` };
  }
  const url = checkBase(raw, SERVER_URL);
  const protocol = url.protocol as 'https:' | 'http:';
  const basePath = withoutTrailingSlashes(url.pathname);
  return {
    kind: 'tcp',
    protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : protocol === 'https:' ? 443 : 80,
    basePath,
    display: `${protocol}//${url.host}${basePath}`,
  };
}

// An http(s) URL setting of the service that names no credential-bearing hop of its own (the
// public URL, a token or key-set URL): http(s), no user info. A query is left to the setting.
// Returned as given, trimmed, trailing slashes dropped.
const HTTP_URL: Rules = {
  code: 'config_invalid',
  what: 'URL',
  use: 'https://host[:port][/path]',
  schemes: ['https:', 'http:'],
  credentials: 'a URL setting carries none',
  query: 'allow',
  plainHttp: 'anywhere',
};

export function validateHttpUrl(input: string): string {
  const raw = input.trim();
  checkBase(raw, HTTP_URL);
  return withoutTrailingSlashes(raw);
}

// The host-local mirror endpoint as the engines name it (`--mirror-endpoint`): plain http on
// a loopback address with a port (dockerd takes loopback http mirrors without
// insecure-registries; the endpoint serves nothing else). Without a scheme, http:// is meant.
// `example`: the default address, shown in what to do. Returned as http://host:port.
const MIRROR_ENDPOINT_URL: Rules = {
  code: 'usage',
  what: 'mirror endpoint URL',
  use: 'http://127.0.0.1:port (the endpoint serves plain http on loopback)',
  schemes: ['http:'],
  credentials: 'the engines send none to the endpoint',
  query: 'refuse',
  plainHttp: 'anywhere',
};

export function validateMirrorEndpointUrl(input: string, example = 'http://127.0.0.1:8484'): string {
  const raw = input.trim();
  const rules = { ...MIRROR_ENDPOINT_URL, use: `${example} (the endpoint serves plain http on loopback)` };
  const url = checkBase(raw, rules, SCHEME_SLASHES.test(raw) ? raw : `http://${raw}`);
  const refuse = (why: string): CodedError => refusal(rules, raw, why);
  if (url.pathname !== '/' && url.pathname !== '')
    throw refuse(`a path is not allowed (the engines ask the endpoint for /v2/…); use ${example}`);
  if (!isLoopbackHost(url.hostname))
    throw refuse(`the engines reach the endpoint on this host; use a loopback address such as ${example}`);
  if (url.port === '') throw refuse(`the port is missing; name it, e.g. ${example}`);
  return `http://${url.host}`;
}

// The cloud metadata service the enrollment asks (a stand-in's, for tests): plain http, as
// every cloud's is on its link-local address. Returned parsed.
const METADATA_URL: Rules = {
  code: 'config_invalid',
  what: 'metadata service URL',
  use: 'http://169.254.169.254 or http://host:port',
  schemes: ['http:'],
  credentials: 'the metadata service takes none',
  query: 'refuse',
  plainHttp: 'anywhere',
};

export function validateMetadataUrl(input: string): URL {
  return checkBase(input.trim(), METADATA_URL);
}

const KINDS = {
  mirror: MIRROR_URL,
  upstream: UPSTREAM_URL,
  registryApi: REGISTRY_API_URL,
  server: SERVER_URL,
  http: HTTP_URL,
  mirrorEndpoint: MIRROR_ENDPOINT_URL,
  metadata: METADATA_URL,
} as const;

export type UrlKind = keyof typeof KINDS;
