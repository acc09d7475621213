import { CodedError } from '../../../common/errors.ts';

export type JsonObject = Record<string, unknown>;

// Parses a JSON config file that must hold one object. Missing or blank counts as {} (a file
// we may create); anything else that is not an object is refused, so we never overwrite a
// file we do not understand.
export function parseJsonObject(text: string | undefined, label: string): JsonObject {
  if (text === undefined || text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new CodedError(
      'config_invalid',
      `${label} is not valid JSON (${jsonErrorPlace(error)}); fix or move it, nothing was changed`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CodedError('config_invalid', `${label} does not hold a JSON object; fix or move it, nothing was changed`);
  }
  return value as JsonObject;
}

// Where a JSON.parse error is, never what: V8's message may quote the text around it, and a
// client config.json keeps registry passwords in `auths`.
export function jsonErrorPlace(error: unknown): string {
  const text = error instanceof Error ? error.message : '';
  const place = /line (\d+) column (\d+)/.exec(text);
  return place ? `syntax error at line ${place[1]} column ${place[2]}` : 'syntax error';
}
