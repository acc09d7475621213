import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type {
  BasicCredentialAnswer,
  BearerCredentialAnswer,
  CredentialRequestBody,
} from '../../src/contract/credential-answer.ts';
import type { ServiceErrorCode } from '../../src/contract/error-codes.ts';
import type { HostConfigAnswer } from '../../src/contract/host-config.ts';

// A small real HTTP server speaking docs/contract.md from the helper's side, with behaviour
// a test controls: it counts requests, and can be slow, hang, send garbage, or answer any
// contract error (500, 503, 404, 401 codes), a proxy's bare 429 with Retry-After. TCP on 127.0.0.1 port 0
// or a unix socket. Its answers are built in src/contract's shapes, as the real service
// builds them (src/service/http/routes/credentials-route.ts, host-config-route.ts), so the fake
// cannot drift from the service; only the `garbage`, `bare` and `error` behaviours, and an
// `endpoint` block a test chooses, step outside the contract on purpose.

export interface ContractCredential {
  username: string;
  secret: string;
  // Lifetime from the moment of the request; negative means already expired.
  ttlMs: number;
}

export type Behaviour =
  | { kind: 'ok' }
  | { kind: 'delay'; ms: number }
  | { kind: 'hang' }
  | { kind: 'garbage'; body?: string; status?: number }
  | { kind: 'error'; status: number; error: string; message?: string; retryAfter?: string }
  // What a proxy or load balancer in front of the service answers: no contract body (a 429 of
  // its rate limit, say; the service itself never sends one).
  | { kind: 'bare'; status: number; body?: string; retryAfter?: string };

export interface RecordedRequest {
  method: string;
  path: string;
  body: string;
  authorization: string | undefined;
  userAgent: string | undefined;
}

export interface ContractServerOptions {
  socketPath?: string;
  // The bearer token the server accepts; any other is token_invalid.
  instanceToken?: string;
  credentials?: Record<string, ContractCredential>;
  // Registries served like the broker source: a registry token per repository (`token-for-<repository>`),
  // and 404 not_found with the reason when asked without a repository.
  brokered?: string[];
  // The host-config answer. `endpoint` left out is what the service sends with the endpoint
  // off; any other value is sent as given (a test of the helper's refusals may break the contract).
  hostConfig?: Omit<HostConfigAnswer, 'endpoint'> & { endpoint?: unknown };
  // Serve HTTPS with this key and certificate (PEM) instead of plain HTTP.
  tls?: { key: string; cert: string };
}

export interface ContractServer {
  url: string;
  requests: RecordedRequest[];
  credentials: Map<string, ContractCredential>;
  // Behaviours for the next requests, one each, in order; then `fallback`.
  queue(...behaviours: Behaviour[]): void;
  fallback: Behaviour;
  // Requests to POST /v1/credentials so far.
  credentialRequests(): number;
  close(): Promise<void>;
}

export const TEST_INSTANCE_TOKEN = 'test-instance-token-0123456789';

export async function startContractServer(options: ContractServerOptions = {}): Promise<ContractServer> {
  const instanceToken = options.instanceToken ?? TEST_INSTANCE_TOKEN;
  const pending: Behaviour[] = [];
  const hanging = new Set<ServerResponse>();
  const state: ContractServer = {
    url: '',
    requests: [],
    credentials: new Map(Object.entries(options.credentials ?? {})),
    queue: (...behaviours) => pending.push(...behaviours),
    fallback: { kind: 'ok' },
    credentialRequests: () => state.requests.filter((r) => r.method === 'POST' && r.path === '/v1/credentials').length,
    close: async () => {
      for (const res of hanging) res.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '/').split('?')[0]!;
    state.requests.push({
      method: req.method ?? '',
      path,
      body,
      authorization: req.headers.authorization,
      userAgent: req.headers['user-agent'],
    });
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    const behaviour = pending.shift() ?? state.fallback;
    if (behaviour.kind === 'hang') {
      hanging.add(res);
      return;
    }
    if (behaviour.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, behaviour.ms));
    if (behaviour.kind === 'garbage') {
      res.writeHead(behaviour.status ?? 200, { 'content-type': 'application/json' });
      res.end(behaviour.body ?? '<html>not json');
      return;
    }
    if (behaviour.kind === 'bare') {
      res.writeHead(behaviour.status, {
        'content-type': 'text/plain',
        ...(behaviour.retryAfter !== undefined ? { 'retry-after': behaviour.retryAfter } : {}),
      });
      res.end(behaviour.body ?? '');
      return;
    }
    if (behaviour.kind === 'error') {
      const headers: Record<string, string> =
        behaviour.retryAfter !== undefined ? { 'retry-after': behaviour.retryAfter } : {};
      return json(
        res,
        behaviour.status,
        { error: behaviour.error, message: behaviour.message ?? behaviour.error },
        headers,
      );
    }
    const authorization = req.headers.authorization;
    if (!authorization?.startsWith('Bearer ')) return refuse(res, 401, 'token_missing', 'no bearer token');
    if (authorization.slice('Bearer '.length) !== instanceToken)
      return refuse(res, 401, 'token_invalid', 'bad signature');
    if (req.method === 'GET' && path === '/v1/host-config') {
      const { mirrors, registries, endpoint } = options.hostConfig ?? {
        mirrors: [],
        registries: [...state.credentials.keys()],
      };
      const answer: Omit<HostConfigAnswer, 'endpoint'> & { endpoint: unknown } = {
        mirrors,
        registries,
        endpoint: endpoint ?? OFF_ENDPOINT,
      };
      return json(res, 200, answer);
    }
    if (req.method === 'POST' && path === '/v1/credentials') {
      let registry: unknown;
      let repository: unknown;
      try {
        ({ registry, repository } = JSON.parse(body) as { [K in keyof CredentialRequestBody]?: unknown });
      } catch {
        return refuse(res, 400, 'bad_request', 'malformed JSON');
      }
      if (typeof registry !== 'string') return refuse(res, 400, 'bad_request', 'missing registry');
      if (options.brokered?.includes(registry)) {
        if (typeof repository !== 'string')
          return refuse(
            res,
            404,
            'not_found',
            `registry ${registry} issues repository-scoped tokens only; pull through the mirror endpoint or with auth-header`,
          );
        const answer: BearerCredentialAnswer = {
          kind: 'bearer',
          registry,
          repository,
          token: `token-for-${repository}`,
          expires_at: new Date(Date.now() + 300_000).toISOString(),
          source: 'broker',
        };
        return json(res, 200, answer);
      }
      const credential = state.credentials.get(registry);
      if (!credential) return refuse(res, 404, 'not_found', `no credential for ${registry}`);
      const answer: BasicCredentialAnswer = {
        kind: 'basic',
        registry,
        username: credential.username,
        secret: credential.secret,
        expires_at: new Date(Date.now() + credential.ttlMs).toISOString(),
        source: 'static',
      };
      return json(res, 200, answer);
    }
    return refuse(res, 404, 'not_found', 'no such endpoint');
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => res.destroy());
  };
  const server: Server = options.tls
    ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, listener)
    : createServer(listener);
  if (options.socketPath !== undefined) {
    await new Promise<void>((resolve) => server.listen(options.socketPath, resolve));
    state.url = `unix:${options.socketPath}`;
  } else {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    state.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  return state;
}

// The endpoint block the service sends when the mirror endpoint is off and has no upstreams.
const OFF_ENDPOINT: HostConfigAnswer['endpoint'] = { enabled: false, upstreams: [] };

// The contract's error body for the fake's own refusals.
function refuse(res: ServerResponse, status: number, error: ServiceErrorCode, message: string): void {
  json(res, status, { error, message });
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
