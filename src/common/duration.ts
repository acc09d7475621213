import { CodedError } from './errors.ts';
import { printable } from './printable.ts';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

// Durations as operators write them in settings and flags: 90s, 10m, 12h, 30d (a bare number
// is seconds). Returns whole seconds; a bad value, or one over `maxSeconds`, names the setting
// it came from (a lifetime of years would otherwise fail later, at a request, in date maths).
export function parseDuration(text: string, settingName: string, maxSeconds?: number): number {
  const match = /^\s*(\d{1,9})\s*([smhd]?)\s*$/i.exec(text);
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[(match[2] || 's').toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new CodedError(
      'config_invalid',
      `${settingName}: "${printable(text, 40)}" is not a duration; use a positive number with s, m, h or d, such as 90s, 10m, 12h or 30d`,
    );
  }
  if (maxSeconds !== undefined && seconds > maxSeconds) {
    throw new CodedError(
      'config_invalid',
      `${settingName}: ${formatDuration(seconds)} is longer than the ${formatDuration(maxSeconds)} this lifetime allows; use a shorter one`,
    );
  }
  return seconds;
}

// Upper bounds of the short lifetimes: a static credential's cache life, a pull ticket, a
// registry token. Short is the point of them; a day is already generous.
export const MAX_SHORT_LIFETIME_SECONDS = 86_400;

// The shortest exact spelling of a number of seconds, for messages and docs.
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
