// The one backoff rule of both halves: exponential with full jitter. The wait before retry n
// (from 1) is uniform in [0, min(capMs, baseMs × 2^(n-1))]: clients that failed together (a
// fleet after a server restart, replicas after a registry blip) spread over the whole window
// instead of retrying in step. (Full jitter, as in "Exponential Backoff And Jitter", AWS
// Architecture Blog, 2015: the fewest total calls of the usual variants.)
export interface BackoffRule {
  baseMs: number;
  capMs?: number;
}

export function backoffDelayMs(attempt: number, rule: BackoffRule, random: () => number = Math.random): number {
  const ceiling = Math.min(rule.capMs ?? Infinity, rule.baseMs * 2 ** (Math.max(1, attempt) - 1));
  return Math.round(random() * ceiling);
}
