// The registry error body of the distribution API, {"errors":[{"code","message","detail"}]},
// written and read here only: the endpoint's refusals, the token realm's 401 (dockerd,
// containerd and containers/image print its message as `unauthorized: <message>`) and doctor's
// reading of an endpoint refusal.

// The distribution API's error codes that this project answers with.
export type RegistryErrorCode =
  | 'UNAUTHORIZED'
  | 'UNSUPPORTED'
  | 'DENIED'
  | 'NAME_INVALID'
  | 'TAG_INVALID'
  | 'DIGEST_INVALID'
  | 'UNAVAILABLE'
  | 'NAME_UNKNOWN'
  | 'MANIFEST_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'BLOB_UNKNOWN'
  | 'TOOMANYREQUESTS'
  | 'RANGE_INVALID';

export interface RegistryErrorEntry {
  code: RegistryErrorCode;
  message: string;
  // The format allows structured detail; we send none.
  detail: null;
}

export interface RegistryErrorBody {
  errors: RegistryErrorEntry[];
}

// One error, as the body's `errors` list (a realm's 401 spreads it next to its own fields).
export function registryErrorBody(code: RegistryErrorCode, message: string): RegistryErrorBody {
  return { errors: [{ code, message, detail: null }] };
}

// The first error's message of a body that may be one, made one printable line of at most
// maxLength characters; undefined for anything else.
export function registryErrorMessage(body: string, maxLength = 200): string | undefined {
  try {
    const message = (JSON.parse(body) as { errors?: Array<{ message?: unknown }> }).errors?.[0]?.message;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the registry's text loses its control characters
    if (typeof message === 'string') return message.replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, maxLength);
  } catch {
    // not JSON
  }
  return undefined;
}
