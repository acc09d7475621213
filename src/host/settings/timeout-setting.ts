import { CodedError } from '../../common/errors.ts';
import { printable } from '../../common/printable.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

// DOCKER_CREDENTIAL_DSTACK_TIMEOUT: a bare number is milliseconds (5000), or a duration
// with ms, s or m (500ms, 5s, 1m). Bounded so a typo cannot hang every pull.
export function parseTimeoutMs(text: string, settingName: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/i.exec(text);
  const ms = match ? Math.round(Number(match[1]) * UNIT_MS[(match[2] ?? 'ms').toLowerCase()]!) : NaN;
  if (!Number.isFinite(ms) || ms < 1 || ms > 600_000) {
    throw new CodedError(
      'config_invalid',
      `${settingName}: "${printable(text, 40)}" is not a timeout; use milliseconds (5000) or a duration such as 500ms, 5s or 1m (at most 10m)`,
    );
  }
  return ms;
}
