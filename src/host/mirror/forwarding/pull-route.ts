import { isDigest, isReference, repositoryProblem } from '../../../registry/distribution-grammar.ts';
import { MirrorError } from '../upstream/registry-error.ts';

// What one request to the endpoint asks for. Only the distribution API's pull subset goes
// upstream; the endpoint's own paths (/healthz, /metrics, /_dstack/probe) are answered here.
export type PullRoute =
  | { kind: 'ping' }
  | { kind: 'manifest'; repository: string; reference: string }
  | { kind: 'blob'; repository: string; reference: string }
  | { kind: 'tags'; repository: string; reference: ''; query: string };

export type MirrorRoute =
  | PullRoute
  | { kind: 'healthz' }
  | { kind: 'metrics' }
  | { kind: 'probe'; query: URLSearchParams };

const PULL_METHODS = new Set(['GET', 'HEAD']);

// Parses method and request target, or throws the MirrorError to answer with. The path is
// taken as sent: a percent-encoded or dot segment is refused, never decoded, so what is
// validated is exactly what goes upstream.
export function routeRequest(method: string | undefined, target: string | undefined): MirrorRoute {
  const raw = target ?? '/';
  const query = raw.indexOf('?');
  const path = query === -1 ? raw : raw.slice(0, query);
  const search = query === -1 ? '' : raw.slice(query + 1);
  const verb = method ?? 'GET';
  if (path === '/healthz' || path === '/metrics' || path === '/_dstack/probe') {
    if (verb !== 'GET' && verb !== 'HEAD') throw unsupported(verb, path);
    if (path === '/healthz') return { kind: 'healthz' };
    if (path === '/metrics') return { kind: 'metrics' };
    return { kind: 'probe', query: new URLSearchParams(search) };
  }
  if (path === '/v2' || path === '/v2/') {
    if (!PULL_METHODS.has(verb)) throw unsupported(verb, path);
    return { kind: 'ping' };
  }
  if (!path.startsWith('/v2/'))
    throw new MirrorError(
      404,
      'UNSUPPORTED',
      'bad_request',
      `${path.slice(0, 100)} is not a registry API path; this endpoint serves pulls under /v2/`,
    );
  const rest = path.slice(4);
  if (rest === '_catalog' || rest.startsWith('_catalog'))
    throw new MirrorError(
      404,
      'UNSUPPORTED',
      'bad_request',
      'the catalog is not served: this endpoint only forwards pulls of named images',
    );
  const pull = matchPull(rest, search);
  if (!pull) {
    if (/\/blobs\/uploads\/?/.test(rest) || !PULL_METHODS.has(verb)) throw unsupported(verb, path);
    throw new MirrorError(
      404,
      'UNSUPPORTED',
      'bad_request',
      `${path.slice(0, 100)} is not a pull: this endpoint serves /v2/<name>/manifests/<reference>, /v2/<name>/blobs/<digest> and /v2/<name>/tags/list`,
    );
  }
  if (!PULL_METHODS.has(verb)) throw unsupported(verb, path);
  return pull;
}

function matchPull(rest: string, search: string): PullRoute | undefined {
  let match = /^(.+)\/manifests\/([^/]+)$/.exec(rest);
  if (match) {
    const repository = checkedRepository(match[1]!);
    const reference = match[2]!;
    if (!isReference(reference))
      throw new MirrorError(
        400,
        'TAG_INVALID',
        'bad_request',
        `"${reference.slice(0, 140)}" is neither a tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}) nor a digest`,
      );
    return { kind: 'manifest', repository, reference };
  }
  match = /^(.+)\/blobs\/([^/]+)$/.exec(rest);
  if (match && match[2] !== 'uploads') {
    const repository = checkedRepository(match[1]!);
    const digest = match[2]!;
    if (!isDigest(digest))
      throw new MirrorError(
        400,
        'DIGEST_INVALID',
        'bad_request',
        `"${digest.slice(0, 140)}" is not a digest such as sha256:<64 hex>`,
      );
    return { kind: 'blob', repository, reference: digest };
  }
  match = /^(.+)\/tags\/list$/.exec(rest);
  if (match) return { kind: 'tags', repository: checkedRepository(match[1]!), reference: '', query: tagsQuery(search) };
  return undefined;
}

function checkedRepository(name: string): string {
  const problem = repositoryProblem(name);
  if (problem)
    throw new MirrorError(
      400,
      'NAME_INVALID',
      'bad_request',
      `invalid repository name "${name.slice(0, 140)}": ${problem}`,
    );
  return name;
}

// Pagination (`n`, `last`) is all tags/list takes; anything else is dropped.
function tagsQuery(search: string): string {
  const given = new URLSearchParams(search);
  const kept = new URLSearchParams();
  const n = given.get('n');
  if (n !== null && /^\d{1,6}$/.test(n)) kept.set('n', n);
  const last = given.get('last');
  if (last !== null && isReference(last)) kept.set('last', last);
  return kept.toString();
}

function unsupported(method: string, path: string): MirrorError {
  return new MirrorError(
    405,
    'UNSUPPORTED',
    'bad_request',
    `${method.slice(0, 10)} ${path.slice(0, 100)} refused: this endpoint is a pull-only mirror (GET and HEAD); push, delete and catalog are not served`,
  );
}
