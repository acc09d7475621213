import { CodedError, isCodedError } from '../../common/errors.ts';
import type { Secret } from '../../common/secret.ts';
import { Secret as SecretValue } from '../../common/secret.ts';
import { VERSION } from '../../common/version.ts';
import { printable } from '../../common/printable.ts';
import { parseCredentialAnswer, type CredentialRequestBody } from '../../contract/credential-answer.ts';
import { parseHostConfigAnswer, type HostConfigAnswer, type HostConfigEndpoint } from '../../contract/host-config.ts';
import { createTransport, serverTimeout, type Exchange, type ExchangeResult, type Transport } from './http-exchange.ts';
import { readInstanceToken } from './instance-token.ts';
import { readServiceAccountToken } from './service-account-token.ts';
import { backoffMs, isRetryableStatus, MAX_ATTEMPTS, parseRetryAfter } from './retry-policy.ts';
import { validateServerUrl } from '../../registry/url-rules.ts';
import { errorFromResponse } from './service-errors.ts';

// A credential as the host holds it (src/contract/credential-answer.ts, secrets wrapped).
// `expiresAt` is on the service's clock; `serviceDate` is that clock's reading when it answered
// (the HTTP Date header), so the host can count the life without trusting its own clock
// (src/host/credentials/credential-lifetime.ts).
export type ServiceCredential =
  | { kind: 'basic'; registry: string; username: string; secret: Secret; expiresAt: Date; serviceDate?: Date }
  | { kind: 'bearer'; registry: string; repository: string; token: Secret; expiresAt: Date; serviceDate?: Date };

// GET /v1/host-config (src/contract/host-config.ts). `endpoint` is the host-local mirror
// endpoint's block; a service that sends none has it disabled with no upstreams.
export type HostConfig = HostConfigAnswer;
export type { HostConfigEndpoint };

export interface ServiceClient {
  // `repository` scopes the request (a brokered registry answers only with it).
  getCredential(registryKey: string, repository?: string): Promise<ServiceCredential>;
  getHostConfig(): Promise<HostConfig>;
  // `ok`: HTTP 200 with the service's own answer; `status` as the URL answered.
  health(): Promise<{ ok: boolean; status?: number; date?: Date }>;
}

// What the client needs to reach the service; the helper's settings are one such value.
export interface ServiceClientSettings {
  server: string;
  tokenFile: string;
  // A Kubernetes node: a projected service-account token file, used instead of tokenFile.
  serviceAccountTokenFile?: string;
  // A token handed over by the caller (the kubelet's pod token): used instead of both files.
  serviceAccountToken?: Secret;
  timeoutMs: number;
  caFile?: string;
  proxyEnv?: Record<string, string | undefined>;
}

export interface ServiceClientOptions {
  warn?: (msg: string) => void;
  debug?: (msg: string) => void;
  transport?: Transport;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

// The helper's view of the service (docs/contract.md): bearer instance token, one bounded
// time budget per call shared by all attempts, retries only where they can help.
export function createServiceClient(
  settings: ServiceClientSettings,
  options: ServiceClientOptions = {},
): ServiceClient {
  const target = validateServerUrl(settings.server);
  const transport =
    options.transport ?? createTransport(target, { caFile: settings.caFile, proxyEnv: settings.proxyEnv });
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const debug = options.debug ?? (() => {});
  const context = { server: target.display, ...tokenContext(settings) };
  const bearer = (): Secret =>
    settings.serviceAccountToken ??
    (settings.serviceAccountTokenFile !== undefined
      ? readServiceAccountToken(settings.serviceAccountTokenFile)
      : readInstanceToken(settings.tokenFile, options.warn));

  async function call(
    exchange: Omit<Exchange, 'headers'>,
    registryKey?: string,
    authenticate = true,
  ): Promise<ExchangeResult> {
    const headers: Record<string, string> = {
      'user-agent': `docker-credential-dstack/${VERSION}`,
      accept: 'application/json',
    };
    if (authenticate) headers.authorization = `Bearer ${bearer().reveal()}`;
    if (exchange.body !== undefined) headers['content-type'] = 'application/json';
    const deadline = Date.now() + settings.timeoutMs;
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - Date.now();
      let failure: CodedError;
      let waitMs: number | undefined;
      try {
        const result = await transport.send({ ...exchange, headers }, Math.max(1, remaining));
        if (result.status >= 200 && result.status < 300) return result;
        failure = errorFromResponse(result.status, result.body, { ...context, registryKey, attempts: attempt });
        if (!isRetryableStatus(result.status)) throw failure;
        const header = result.headers['retry-after'];
        waitMs = parseRetryAfter(Array.isArray(header) ? header[0] : header, Date.now());
      } catch (error) {
        if (isCodedError(error, 'timeout')) throw serverTimeout(target.display, settings.timeoutMs);
        if (!isCodedError(error) || error.code !== 'unreachable') throw error;
        failure = error;
      }
      const delay = waitMs ?? backoffMs(attempt, options.random);
      if (attempt >= MAX_ATTEMPTS || Date.now() + delay >= deadline) throw failure;
      debug(`attempt ${attempt} to ${target.display} failed (${failure.code}); retrying in ${delay} ms`);
      await sleep(delay);
    }
  }

  return {
    async getCredential(registryKey, repository) {
      const request: CredentialRequestBody =
        repository === undefined ? { registry: registryKey } : { registry: registryKey, repository };
      const result = await call(
        { method: 'POST', path: '/v1/credentials', body: JSON.stringify(request) },
        registryKey,
      );
      return parseCredential(result.body, target.display, registryKey, dateHeader(result));
    },
    async getHostConfig() {
      const result = await call({ method: 'GET', path: '/v1/host-config' });
      const parsed = parseHostConfigAnswer(parseJson(result.body, target.display));
      if (!parsed.ok) throw badResponse(target.display, parsed.why);
      return parsed.answer;
    },
    async health() {
      // One attempt, any status: doctor names what a URL that is not the service answers.
      const result = await transport
        .send(
          {
            method: 'GET',
            path: '/healthz',
            headers: { 'user-agent': `docker-credential-dstack/${VERSION}`, accept: 'application/json' },
          },
          settings.timeoutMs,
        )
        .catch((error: unknown) => {
          throw isCodedError(error, 'timeout') ? serverTimeout(target.display, settings.timeoutMs) : error;
        });
      const date = dateHeader(result);
      return {
        ok: result.status === 200 && isHealthAnswer(result.body),
        status: result.status,
        ...(date ? { date } : {}),
      };
    },
  };
}

// What the error messages name as the credential and its place (src/host/client/service-errors.ts).
function tokenContext(settings: ServiceClientSettings): { tokenFile: string; serviceAccount?: true } {
  if (settings.serviceAccountToken !== undefined)
    return { tokenFile: "the pod's service-account token (from the kubelet)", serviceAccount: true };
  if (settings.serviceAccountTokenFile !== undefined)
    return { tokenFile: settings.serviceAccountTokenFile, serviceAccount: true };
  return { tokenFile: settings.tokenFile };
}

// dstack-registry-auth's /healthz answer, {"status":"ok"}: a 200 from something else is not it.
function isHealthAnswer(body: string): boolean {
  try {
    return (JSON.parse(body) as { status?: unknown }).status === 'ok';
  } catch {
    return false;
  }
}

// The answer's HTTP Date: the service's clock when it answered; undefined when absent or unreadable.
function dateHeader(result: ExchangeResult): Date | undefined {
  const header = result.headers.date;
  const date = header ? new Date(header) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}

function parseCredential(
  body: string,
  server: string,
  registryKey: string,
  serviceDate: Date | undefined,
): ServiceCredential {
  const parsed = parseCredentialAnswer(parseJson(body, server));
  if (!parsed.ok) throw badResponse(server, `the credential for ${registryKey}: ${parsed.why}`);
  const { answer } = parsed;
  // The contract: `registry` repeats the key asked for. Anything else is not our answer.
  if (answer.registry !== registryKey)
    throw badResponse(
      server,
      `a credential for registry "${printable(answer.registry)}" when asked for ${registryKey}`,
    );
  const registry = registryKey;
  const expiresAt = new Date(answer.expires_at);
  const dated = serviceDate === undefined ? {} : { serviceDate };
  if (answer.kind === 'bearer')
    return {
      kind: 'bearer',
      registry,
      repository: answer.repository,
      token: new SecretValue(answer.token),
      expiresAt,
      ...dated,
    };
  return {
    kind: 'basic',
    registry,
    username: answer.username,
    secret: new SecretValue(answer.secret),
    expiresAt,
    ...dated,
  };
}

function parseJson(body: string, server: string): object {
  try {
    const value: unknown = JSON.parse(body);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value;
  } catch {
    // fall through
  }
  throw badResponse(server, 'the answer is not a JSON object');
}

function badResponse(server: string, why: string): CodedError {
  return new CodedError(
    'bad_response',
    `dstack server ${server} sent an invalid answer: ${why}; check DOCKER_CREDENTIAL_DSTACK_SERVER points at dstack-registry-auth`,
  );
}
