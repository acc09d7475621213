import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs } from '../../../common/backoff.ts';

// How long and how often the service asks a registry or its realm. Each attempt has its own
// timeout, and no new attempt starts past the deadline, so a request that waits on an upstream
// is answered within deadlineMs plus one attempt.
export interface RetryPolicy {
  attempts: number;
  attemptTimeoutMs: number;
  deadlineMs: number;
  // Backoff before retry n (from 1) is random in [0, baseDelayMs × 2^(n-1)]: the one rule,
  // full jitter (src/common/backoff.ts), so replicas that failed together do not retry together.
  baseDelayMs: number;
}

export const TOKEN_POLICY: RetryPolicy = { attempts: 3, attemptTimeoutMs: 5_000, deadlineMs: 10_000, baseDelayMs: 200 };
export const DISCOVERY_POLICY: RetryPolicy = {
  attempts: 2,
  attemptTimeoutMs: 4_000,
  deadlineMs: 5_000,
  baseDelayMs: 200,
};

// Token answers are a few KiB; anything beyond this is not one.
const MAX_BODY_BYTES = 64 * 1024;

export interface UpstreamResponse {
  status: number;
  headers: Headers;
  // Read only when asked (capped); never logged, never echoed to a client.
  body: string;
  attempts: number;
}

// Thrown when no attempt got an HTTP answer (refused, reset, DNS, timeout). `cause` is a short
// code (ECONNREFUSED, timeout), never a URL with a query or a header.
export class UpstreamUnreachable extends Error {
  constructor(
    readonly why: string,
    readonly attempts: number,
  ) {
    super(why);
    this.name = 'UpstreamUnreachable';
  }
}

// One request with retries on network errors, 429 and 5xx; the last answer is returned as it
// is (a 5xx after the last attempt included) for the caller to judge. `init` is rebuilt per
// attempt because a body stream cannot be sent twice.
export async function upstreamRequest(
  url: string,
  init: () => RequestInit,
  policy: RetryPolicy,
  options: { readBody?: boolean } = {},
): Promise<UpstreamResponse> {
  const deadline = Date.now() + policy.deadlineMs;
  let lastFailure = 'no attempt';
  for (let attempt = 1; ; attempt++) {
    const remaining = deadline - Date.now();
    try {
      const response = await fetch(url, {
        ...init(),
        redirect: 'manual',
        signal: AbortSignal.timeout(Math.max(1, Math.min(policy.attemptTimeoutMs, remaining))),
      });
      const retryable = response.status === 429 || response.status >= 500;
      if (!retryable || !(await canRetry(attempt, policy, deadline))) {
        let body = '';
        if (options.readBody) body = await readCapped(response);
        else await response.body?.cancel().catch(() => {});
        return { status: response.status, headers: response.headers, body, attempts: attempt };
      }
      await response.body?.cancel().catch(() => {});
      lastFailure = `HTTP ${response.status}`;
    } catch (error) {
      lastFailure = failureCode(error);
      if (!(await canRetry(attempt, policy, deadline))) throw new UpstreamUnreachable(lastFailure, attempt);
    }
  }
}

// Sleeps the jittered backoff and says whether another attempt fits before the deadline.
async function canRetry(attempt: number, policy: RetryPolicy, deadline: number): Promise<boolean> {
  if (attempt >= policy.attempts) return false;
  const delay = backoffDelayMs(attempt, { baseMs: policy.baseDelayMs });
  if (Date.now() + delay >= deadline) return false;
  await sleep(delay);
  return true;
}

async function readCapped(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      return '';
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// A network failure as a short code: the error's own message may quote the URL.
function failureCode(error: unknown): string {
  const err = error as { name?: string; code?: string; cause?: { code?: string; name?: string } };
  if (err.name === 'TimeoutError' || err.cause?.name === 'TimeoutError') return 'timeout';
  return err.cause?.code ?? err.code ?? 'network error';
}
