// The one rule that hides the user info of a URL before it is printed. Every URL the project
// echoes (a registry key, a mirror, the dstack server, a database URL, a public URL) goes
// through redactUrl, and every line the binaries print goes through redactUrlsIn, as a net.
const REDACTED = '***';
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
// A URL inside free text: scheme:// up to white space or a quote.
const URL_IN_TEXT = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s"'`<>]*)/gi;
// Query parameters whose value is a secret (postgres://…?password=…, ?token=…).
const SECRET_PARAMETER = /([?&;][^=&#;]*(?:pass|secret|token|key|auth)[^=&#;]*=)[^&#;]*/gi;

// One URL value, with or without a scheme, parsable or not: everything between the scheme
// and its LAST '@' is user info (a password may itself hold '@', ':', '/' or a space), so
// `https://u:p@w@host` shows as `https://***@host` and `u:p@host` as `***@host`.
export function redactUrl(value: string): string {
  const scheme = SCHEME.exec(value)?.[0] ?? '';
  return scheme + redactRest(value.slice(scheme.length));
}

// Free text (a message, a log line): each scheme://… in it, up to white space or a quote.
export function redactUrlsIn(text: string): string {
  return text.includes('://')
    ? text.replace(URL_IN_TEXT, (_, scheme: string, rest: string) => scheme + redactRest(rest))
    : text;
}

function redactRest(rest: string): string {
  const at = rest.lastIndexOf('@');
  const hidden = at === -1 ? rest : `${REDACTED}${rest.slice(at)}`;
  return hidden.replace(SECRET_PARAMETER, `$1${REDACTED}`);
}
