// An upstream registry's WWW-Authenticate challenge, as far as a pull needs it.
export type Challenge =
  | { scheme: 'basic' }
  | { scheme: 'bearer'; realm: string; service?: string; scope?: string };

// Reads the first Basic or Bearer challenge of a WWW-Authenticate header (RFC 7235:
// `Scheme k=v, k="quoted, value"`; several challenges may share one header or come as an
// array). Other schemes, and a Bearer challenge without a realm, are not challenges we answer.
export function parseChallenge(header: string | string[] | undefined): Challenge | undefined {
  if (header === undefined) return undefined;
  for (const text of Array.isArray(header) ? header : [header]) {
    for (const { scheme, params } of challengesOf(text)) {
      if (scheme === 'basic') return { scheme: 'basic' };
      if (scheme === 'bearer' && params.realm) {
        return { scheme: 'bearer', realm: params.realm, ...(params.service ? { service: params.service } : {}), ...(params.scope ? { scope: params.scope } : {}) };
      }
    }
  }
  return undefined;
}

function challengesOf(text: string): Array<{ scheme: string; params: Record<string, string> }> {
  const found: Array<{ scheme: string; params: Record<string, string> }> = [];
  let i = 0;
  let current: { scheme: string; params: Record<string, string> } | undefined;
  while (i < text.length) {
    i = skip(text, i, /[\s,]/);
    const token = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+/.exec(text.slice(i));
    if (!token) break;
    i += token[0].length;
    const afterSpaces = skip(text, i, /[ \t]/);
    if (text[afterSpaces] === '=' && current) {
      // an auth-param of the current challenge
      i = skip(text, afterSpaces + 1, /[ \t]/);
      let value: string;
      if (text[i] === '"') {
        value = '';
        i++;
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < text.length) i++;
          value += text[i];
          i++;
        }
        i++;
      } else {
        const bare = /^[^,\s]*/.exec(text.slice(i))![0];
        value = bare;
        i += bare.length;
      }
      current.params[token[0].toLowerCase()] = value;
    } else {
      current = { scheme: token[0].toLowerCase(), params: {} };
      found.push(current);
      i = afterSpaces;
    }
  }
  return found;
}

function skip(text: string, from: number, pattern: RegExp): number {
  let i = from;
  while (i < text.length && pattern.test(text[i]!)) i++;
  return i;
}
