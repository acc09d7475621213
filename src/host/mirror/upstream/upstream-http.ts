import {
  Agent as HttpAgent,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { CodedError } from '../../../common/errors.ts';
import { VERSION } from '../../../common/version.ts';
import { isTlsErrorCode, tlsFailureText, trustedCas } from '../../client/tls-trust.ts';
import { collectAnswer } from '../../client/collect-answer.ts';

export const MIRROR_USER_AGENT = `docker-credential-dstack/${VERSION} (mirror)`;

export interface SmallExchange {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  maxBody: number;
}

export interface SmallAnswer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

// HTTP toward upstream registries and their token realms, over kept-alive connections (a
// pull is a burst of requests to one host). `exchange` reads a small answer whole (tokens,
// pings); `open` starts a request whose answer the caller streams.
export interface UpstreamHttp {
  exchange(request: SmallExchange): Promise<SmallAnswer>;
  open(
    method: string,
    url: URL,
    headers: OutgoingHttpHeaders,
  ): { request: ClientRequest; response: Promise<IncomingMessage> };
  close(): void;
}

export interface UpstreamHttpOptions {
  caFile?: string;
  proxyEnv?: Record<string, string | undefined>;
  // Time for an upstream to start answering (a pull-through cache may first fetch from its own upstream).
  responseTimeoutMs: number;
  // Time for token and ping exchanges, start to end.
  exchangeTimeoutMs: number;
}

// Longest silence on a connection in the middle of a body before it is given up.
const IDLE_TIMEOUT_MS = 120_000;

export function createUpstreamHttp(options: UpstreamHttpOptions): UpstreamHttp {
  const ca = trustedCas(options.caFile);
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 64, scheduling: 'lifo' });
  const httpsAgent = new HttpsAgent({
    keepAlive: true,
    maxSockets: 64,
    scheduling: 'lifo',
    ca,
    ...(options.proxyEnv ? { proxyEnv: options.proxyEnv } : {}),
  });

  function start(method: string, url: URL, headers: OutgoingHttpHeaders): ClientRequest {
    const secure = url.protocol === 'https:';
    const make = secure ? httpsRequest : httpRequest;
    return make(url, {
      method,
      headers: { 'user-agent': MIRROR_USER_AGENT, ...headers },
      agent: secure ? httpsAgent : httpAgent,
    });
  }

  return {
    open(method, url, headers) {
      const request = start(method, url, headers);
      const response = new Promise<IncomingMessage>((resolve, reject) => {
        // Every exchange ends within its budget whatever the peer sends: a 101 or a close
        // before any answer rejects (Node tells of an unasked 101 only by 'upgrade' or 'close').
        const timer = setTimeout(
          () =>
            request.destroy(
              new CodedError(
                'upstream_timeout',
                `${url.origin} did not answer within ${options.responseTimeoutMs / 1000} s`,
              ),
            ),
          options.responseTimeoutMs,
        );
        request.setTimeout(IDLE_TIMEOUT_MS, () =>
          request.destroy(new CodedError('upstream_timeout', `${url.origin} stalled for ${IDLE_TIMEOUT_MS / 1000} s`)),
        );
        request.once('response', (response) => {
          clearTimeout(timer);
          resolve(response);
        });
        request.on('error', (error) => {
          clearTimeout(timer);
          reject(networkError(error, url));
        });
        request.once('upgrade', (_response, socket) => {
          socket.destroy();
          clearTimeout(timer);
          reject(switchedProtocols(url));
        });
        request.once('close', () => {
          clearTimeout(timer);
          reject(closedEarly(url));
        });
      });
      // A rejection nobody awaited yet (the caller aborted first) is not an unhandled one.
      response.catch(() => {});
      request.end();
      return { request, response };
    },
    exchange(exchange) {
      return new Promise((resolve, reject) => {
        const request = start(
          exchange.method,
          exchange.url,
          exchange.body === undefined
            ? exchange.headers
            : { ...exchange.headers, 'content-length': Buffer.byteLength(exchange.body) },
        );
        // Settled once: whichever of answer, error, 101, early close or the deadline comes first.
        const timer = setTimeout(() => {
          fail(
            new CodedError(
              'upstream_timeout',
              `${exchange.url.origin} did not answer within ${options.exchangeTimeoutMs / 1000} s`,
            ),
          );
          request.destroy();
        }, options.exchangeTimeoutMs);
        const fail = (error: CodedError): void => {
          clearTimeout(timer);
          reject(error);
        };
        request.on('error', (error) => fail(networkError(error, exchange.url)));
        request.once('upgrade', (_response, socket) => {
          socket.destroy();
          fail(switchedProtocols(exchange.url));
        });
        request.once('close', () => fail(closedEarly(exchange.url)));
        request.on('response', (response) =>
          collectAnswer(
            request,
            response,
            exchange.maxBody,
            () =>
              new CodedError(
                'upstream_failed',
                `${exchange.url.origin} sent an answer larger than ${exchange.maxBody} bytes`,
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
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

function switchedProtocols(url: URL): CodedError {
  return new CodedError(
    'upstream_failed',
    `${url.origin} answered 101 Switching Protocols to a plain request: it is not a registry (check the upstream and its token realm)`,
  );
}

function closedEarly(url: URL): CodedError {
  return new CodedError('upstream_failed', `${url.origin} closed the connection before a complete answer`);
}

function networkError(error: Error, url: URL): CodedError {
  if (error instanceof CodedError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  if (isTlsErrorCode(code)) return new CodedError('upstream_tls', tlsFailureText(`to ${url.origin}`, code));
  return new CodedError('upstream_unreachable', `cannot reach ${url.origin} (${code})`);
}
