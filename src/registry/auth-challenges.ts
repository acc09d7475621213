// WWW-Authenticate challenges (RFC 7235): `Bearer realm="https://auth.example/token",service="x"`.
// A header may hold several challenges, and Node joins repeated headers with ", ", so the
// parser tells the next challenge's scheme from the next parameter by the missing "=".
// In the shared room because both halves read registry challenges (the service to find a
// brokered registry's realm; the mirror endpoint, through src/host/mirror/upstream/challenge.ts, to
// answer upstreams).
export interface Challenge {
  // Lower-case: `bearer`, `basic`, …
  scheme: string;
  // Parameter names lower-case, values unquoted.
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const SPACE = /[ \t]*/y;
const SEPARATORS = /[\s,]*/y;
const QUOTED = /"((?:[^"\\]|\\.)*)"/y;
const BARE_VALUE = /[^,\s]*/y;

export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let at = 0;
  const read = (pattern: RegExp): string | undefined => {
    pattern.lastIndex = at;
    const match = pattern.exec(header);
    if (!match) return undefined;
    at = pattern.lastIndex;
    return match[1] ?? match[0];
  };
  while (at < header.length) {
    read(SEPARATORS);
    if (at >= header.length) break;
    const scheme = read(TOKEN);
    if (scheme === undefined) {
      at++; // junk: step over it
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    for (;;) {
      const mark = at;
      read(SEPARATORS);
      const name = read(TOKEN);
      read(SPACE);
      if (name === undefined || header[at] !== '=') {
        at = mark; // the next challenge's scheme, or the end
        break;
      }
      at++;
      read(SPACE);
      const quoted = header[at] === '"' ? read(QUOTED) : undefined;
      const value = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : (read(BARE_VALUE) ?? '');
      challenge.params[name.toLowerCase()] = value;
    }
  }
  return challenges;
}
