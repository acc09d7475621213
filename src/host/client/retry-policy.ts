import { backoffDelayMs } from '../../common/backoff.ts';

// When to try again and how long to wait. Network errors, 5xx and 429 are retried with the
// one backoff rule (src/common/backoff.ts: exponential, full jitter) or the server's
// Retry-After; 4xx never are.
export const MAX_ATTEMPTS = 4;
const BASE_DELAY_MS = 100;
const MAX_DELAY_MS = 2000;

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

export function backoffMs(attempt: number, random: () => number = Math.random): number {
  return backoffDelayMs(attempt, { baseMs: BASE_DELAY_MS, capMs: MAX_DELAY_MS }, random);
}

// Retry-After is seconds or an HTTP date; undefined when absent or unreadable.
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
