import type { IncomingMessage } from 'node:http';
import { readBody } from '../http/http-io.ts';
import { printable } from '../../common/printable.ts';

// A token request as the realm needs it, whichever way it came.
export interface RealmRequest {
  service: string;
  // The raw `scope` values (each may hold several space-separated scopes).
  scopes: string[];
  // Absent for an anonymous request.
  credential?: { username: string; password: string };
}

export interface RealmRequestError {
  status: number;
  code: string;
  message: string;
  headers?: Record<string, string>;
}

const FORM_LIMIT_BYTES = 16 * 1024;

// GET: service/scope in the query, credential in Basic auth (dockerd). POST: the OAuth2
// password grant in a form body (containerd tries it first and falls back to GET on 400,
// which is what it gets for a refresh_token grant: we issue no refresh tokens).
export async function readRealmRequest(
  req: IncomingMessage,
  basic: { username: string; password: string } | undefined,
): Promise<RealmRequest | RealmRequestError> {
  const url = new URL(req.url ?? '/', 'http://realm.invalid');
  if (req.method === 'GET') return fromParams(url.searchParams, basic);
  if (req.method !== 'POST')
    return {
      status: 405,
      code: 'method_not_allowed',
      message: 'the token realm answers GET and POST only',
      headers: { allow: 'GET, POST' },
    };
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    req.resume();
    return {
      status: 400,
      code: 'invalid_request',
      message: 'POST the token request as application/x-www-form-urlencoded',
    };
  }
  const form = new URLSearchParams((await readBody(req, FORM_LIMIT_BYTES)).toString('utf8'));
  const grant = form.get('grant_type');
  if (grant !== 'password') {
    return {
      status: 400,
      code: grant ? 'unsupported_grant_type' : 'invalid_request',
      message: grant
        ? `grant_type ${printable(grant, 40)} is not supported; use password`
        : 'grant_type is missing; use password',
    };
  }
  const password = form.get('password');
  const credential = password ? { username: form.get('username') ?? '', password } : basic;
  return fromParams(form, credential);
}

function fromParams(params: URLSearchParams, credential: RealmRequest['credential']): RealmRequest | RealmRequestError {
  const service = params.get('service');
  if (!service)
    return {
      status: 400,
      code: 'bad_request',
      message: 'the service parameter is missing; a registry names it in its WWW-Authenticate challenge',
    };
  const request: RealmRequest = { service, scopes: params.getAll('scope') };
  if (credential && credential.password !== '') request.credential = credential;
  return request;
}
