import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { atomicWrite } from '../../common/atomic-write.ts';
import { CodedError, isCodedError } from '../../common/errors.ts';
import { makeDirectorySync } from '../../common/make-directory.ts';
import { printable } from '../../common/printable.ts';
import { VERSION } from '../../common/version.ts';
import { createTransport, type Exchange, type ExchangeResult, type Transport } from '../client/http-exchange.ts';
import { validateServerUrl } from '../../registry/url-rules.ts';
import { readAwsEvidence } from './aws-metadata.ts';
import { readGcpEvidence } from './gcp-metadata.ts';
import { readAzureEvidence } from './azure-metadata.ts';
import type { MetadataFetch } from './metadata-client.ts';

export type Cloud = 'aws' | 'gcp' | 'azure';
export const CLOUDS: readonly Cloud[] = ['aws', 'gcp', 'azure'];

export interface EnrollSettings {
  server: string;
  tokenFile: string;
  timeoutMs: number;
  caFile?: string;
}

export type EnrollResult =
  | { kind: 'already_enrolled'; tokenFile: string }
  | { kind: 'enrolled'; instance: string; project: string; expiresAt: string; tokenFile: string };

const ATTEMPTS = 3;

// Enrollment at first need: with a token file in place nothing happens (a host never trades
// cloud evidence again once it holds a token, it renews with the token). Otherwise: the cloud's
// evidence from the metadata service, POST /v1/enroll, the token written 0600 and atomically,
// create-only, so two enrollments racing at boot cannot overwrite each other's token.
export async function enrollHost(
  cloud: Cloud,
  settings: EnrollSettings,
  metadata: MetadataFetch,
  transport?: Transport,
): Promise<EnrollResult> {
  if (
    await stat(settings.tokenFile).then(
      () => true,
      () => false,
    )
  )
    return { kind: 'already_enrolled', tokenFile: settings.tokenFile };
  const target = validateServerUrl(settings.server);
  const send = transport ?? createTransport(target, { caFile: settings.caFile });
  const headers = {
    'user-agent': `docker-credential-dstack/${VERSION}`,
    accept: 'application/json',
    'content-type': 'application/json',
  };
  const post = (path: string, body: object) =>
    postWithRetries(send, { method: 'POST', path, headers, body: JSON.stringify(body) }, settings.timeoutMs);
  let evidence: object;
  if (cloud === 'gcp' || cloud === 'azure') {
    // A nonce of the service's for this attempt: GCP's audience carries it, Azure signs it.
    const issued = await post('/v1/enroll/nonce', { cloud });
    if (issued.status !== 201) throw refusal(issued.status, issued.body, target.display);
    const nonce = parseNonceAnswer(issued.body, target.display);
    if (cloud === 'gcp' && nonce.audience === undefined)
      throw new CodedError(
        'bad_response',
        `dstack server ${target.display} sent no audience with the GCP nonce; update dstack-registry-auth`,
      );
    evidence =
      cloud === 'gcp'
        ? await readGcpEvidence(metadata, nonce.audience!)
        : await readAzureEvidence(metadata, nonce.nonce);
  } else {
    evidence = await readAwsEvidence(metadata);
  }
  const answer = await post('/v1/enroll', evidence);
  if (answer.status !== 201) throw refusal(answer.status, answer.body, target.display);
  const token = parseAnswer(answer.body, target.display);
  makeDirectorySync(dirname(settings.tokenFile), 0o700, 0o755);
  const placed = await atomicWrite(settings.tokenFile, `${token.token}\n`, { mode: 0o600, exclusive: true });
  if (!placed) return { kind: 'already_enrolled', tokenFile: settings.tokenFile };
  return {
    kind: 'enrolled',
    instance: token.instance,
    project: token.project,
    expiresAt: token.expires_at,
    tokenFile: settings.tokenFile,
  };
}

// At boot the service may not be reachable yet: a few tries for unreachable, 429 and 503;
// the unit's Restart= covers longer outages.
async function postWithRetries(send: Transport, exchange: Exchange, timeoutMs: number): Promise<ExchangeResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await send.send(exchange, timeoutMs);
      if ((answer.status !== 503 && answer.status !== 429) || attempt >= ATTEMPTS) return answer;
    } catch (error) {
      if (!isCodedError(error, 'unreachable') || attempt >= ATTEMPTS) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
  }
}

function parseNonceAnswer(body: string, server: string): { nonce: string; audience?: string } {
  try {
    const data = JSON.parse(body) as Record<string, unknown>;
    if (
      typeof data.nonce === 'string' &&
      data.nonce.length < 256 &&
      (data.audience === undefined || (typeof data.audience === 'string' && data.audience.length < 2048))
    ) {
      return { nonce: data.nonce, ...(typeof data.audience === 'string' ? { audience: data.audience } : {}) };
    }
  } catch {
    // fall through
  }
  throw new CodedError(
    'bad_response',
    `dstack server ${server} sent an invalid nonce answer; check DOCKER_CREDENTIAL_DSTACK_SERVER points at dstack-registry-auth`,
  );
}

function parseAnswer(
  body: string,
  server: string,
): { token: string; instance: string; project: string; expires_at: string } {
  try {
    const data = JSON.parse(body) as Record<string, unknown>;
    if (
      typeof data.token === 'string' &&
      /^[\w-]+\.[\w-]+\.[\w-]+$/.test(data.token) &&
      typeof data.instance === 'string' &&
      typeof data.project === 'string' &&
      typeof data.expires_at === 'string'
    ) {
      return data as { token: string; instance: string; project: string; expires_at: string };
    }
  } catch {
    // fall through
  }
  throw new CodedError(
    'bad_response',
    `dstack server ${server} sent an invalid enrollment answer; check DOCKER_CREDENTIAL_DSTACK_SERVER points at dstack-registry-auth`,
  );
}

// The service's one line (it carries no secret), printable and bounded, with what to do.
function refusal(status: number, body: string, server: string): CodedError {
  let message: string | undefined;
  let code: string | undefined;
  try {
    const data = JSON.parse(body) as { error?: unknown; message?: unknown };
    if (typeof data.message === 'string') message = printable(data.message, 300);
    if (typeof data.error === 'string') code = printable(data.error, 40);
  } catch {
    // not the service's error body
  }
  if (status === 404 && code === 'not_found')
    return new CodedError(
      'not_found',
      `dstack server ${server} does not enroll hosts by cloud identity: ${message ?? 'enrollment is off'}`,
    );
  if (code === undefined)
    return new CodedError(
      'bad_response',
      `${server} answered HTTP ${status} to POST /v1/enroll: it does not look like dstack-registry-auth; check DOCKER_CREDENTIAL_DSTACK_SERVER`,
    );
  return new CodedError(code, `dstack server ${server} refused the enrollment (HTTP ${status}): ${message ?? code}`);
}
