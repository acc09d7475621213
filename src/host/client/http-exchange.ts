import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { CodedError } from '../../common/errors.ts';
import { printable } from '../../common/printable.ts';
import type { ServerTarget } from '../../registry/url-rules.ts';
import { isTlsErrorCode, tlsFailureText, trustedCas } from './tls-trust.ts';
import { collectAnswer } from './collect-answer.ts';

const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface Exchange {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface ExchangeResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Transport {
  send(exchange: Exchange, timeoutMs: number): Promise<ExchangeResult>;
}

// One HTTP exchange with the service over TCP (http on loopback, https with the system CAs
// plus an optional bundle, through HTTPS_PROXY unless NO_PROXY says otherwise) or a unix
// socket. Failures become CodedErrors: unreachable, timeout or tls.
export function createTransport(
  target: ServerTarget,
  options: { caFile?: string; proxyEnv?: Record<string, string | undefined> },
): Transport {
  const agent = makeAgent(target, options);
  return {
    send(exchange, timeoutMs) {
      return new Promise((resolve, reject) => {
        const common = {
          method: exchange.method,
          path: target.basePath + exchange.path,
          headers: exchange.headers,
          agent,
        };
        const request =
          target.kind === 'unix'
            ? httpRequest({ ...common, socketPath: target.socketPath })
            : (target.protocol === 'https:' ? httpsRequest : httpRequest)({
                ...common,
                hostname: target.hostname,
                port: target.port,
                servername: target.protocol === 'https:' ? serverName(target.hostname) : undefined,
              });
        const timer = setTimeout(() => request.destroy(serverTimeout(target.display, timeoutMs)), timeoutMs);
        request.on('error', (error) => {
          clearTimeout(timer);
          reject(error instanceof CodedError ? error : networkError(error as NodeJS.ErrnoException, target));
        });
        request.on('response', (response) =>
          collectAnswer(
            request,
            response,
            MAX_RESPONSE_BYTES,
            () =>
              new CodedError(
                'bad_response',
                `dstack server ${target.display} sent an answer larger than ${MAX_RESPONSE_BYTES} bytes`,
              ),
            (answer) => {
              clearTimeout(timer);
              resolve(answer);
            },
          ),
        );
        request.end(exchange.body);
      });
    },
  };
}

function makeAgent(
  target: ServerTarget,
  options: { caFile?: string; proxyEnv?: Record<string, string | undefined> },
): HttpAgent | undefined {
  if (target.kind === 'unix' || target.protocol === 'http:') return new HttpAgent({ keepAlive: false });
  const ca = trustedCas(options.caFile);
  // Node's own HTTPS_PROXY/NO_PROXY support (CONNECT tunnel), fed from the helper's env.
  return new HttpsAgent({ keepAlive: false, ca, ...(options.proxyEnv ? { proxyEnv: options.proxyEnv } : {}) });
}

// SNI takes host names only, never IP addresses.
function serverName(hostname: string): string | undefined {
  return /^[\d.]+$/.test(hostname) || hostname.includes(':') ? undefined : hostname;
}

function networkError(error: NodeJS.ErrnoException, target: ServerTarget): CodedError {
  const code = error.code ?? 'error';
  if (isTlsErrorCode(code)) {
    return new CodedError('tls', tlsFailureText(`connection to dstack server ${target.display}`, code), {
      cause: error,
    });
  }
  if (code === 'ERR_PROXY_TUNNEL' || /proxy/i.test(error.message)) {
    return new CodedError(
      'unreachable',
      `cannot reach dstack server ${target.display} through the proxy (${oneLineOf(error.message)}): check HTTPS_PROXY and NO_PROXY`,
      { cause: error },
    );
  }
  const what = target.kind === 'unix' && code === 'ENOENT' ? 'no socket there' : code;
  return new CodedError(
    'unreachable',
    `cannot reach dstack server ${target.display} (${what}): check that it is running and DOCKER_CREDENTIAL_DSTACK_SERVER`,
    { cause: error },
  );
}

function oneLineOf(text: string): string {
  return printable(text, 160);
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

// The time budget ran out (one attempt's, or the whole call's).
export function serverTimeout(server: string, budgetMs: number): CodedError {
  return new CodedError(
    'timeout',
    `dstack server ${server} did not answer within ${formatMs(budgetMs)} (DOCKER_CREDENTIAL_DSTACK_TIMEOUT)`,
  );
}
