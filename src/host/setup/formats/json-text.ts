import { CodedError } from '../../../common/errors.ts';
import { jsonErrorPlace } from './json-document.ts';

// Where things are in a JSON file's text, so an edit can splice just the part it changes and
// leave every other byte (numbers beyond double precision, duplicate keys, a BOM, CRLF,
// the author's spacing) exactly as it was.
export interface Span {
  start: number;
  end: number;
}

// An object member or an array element: `start` is the key (or the value, in an array),
// `end` the end of the value.
export interface Item extends Span {
  key?: string;
  value: Span;
}

// An object or array: `start` at its opening bracket, `end` just after its closing one.
export interface Container extends Span {
  kind: 'object' | 'array';
  items: Item[];
}

// The root object of a config file; undefined for a missing or blank file. Anything that is
// not valid JSON holding one object is refused, naming the place of the error but never
// quoting the file (a client config.json keeps registry passwords in `auths`).
export function readRootObject(text: string | undefined, label: string): Container | undefined {
  if (text === undefined || text.trim() === '' || text === '\uFEFF') return undefined;
  const start = text.startsWith('\uFEFF') ? 1 : 0;
  try {
    JSON.parse(text.slice(start));
  } catch (error) {
    throw new CodedError(
      'config_invalid',
      `${label} is not valid JSON (${jsonErrorPlace(error)}); fix or move it, nothing was changed`,
    );
  }
  const at = skipSpace(text, start);
  if (text[at] !== '{')
    throw new CodedError('config_invalid', `${label} does not hold a JSON object; fix or move it, nothing was changed`);
  return readContainer(text, at);
}

// The object or array whose opening bracket is at `start` (the text is known to be valid JSON).
export function readContainer(text: string, start: number): Container {
  const kind = text[start] === '{' ? 'object' : 'array';
  const close = kind === 'object' ? '}' : ']';
  const items: Item[] = [];
  let at = skipSpace(text, start + 1);
  while (text[at] !== close) {
    const itemStart = at;
    let key: string | undefined;
    if (kind === 'object') {
      const keyEnd = skipString(text, at);
      key = decodeString(text, { start: at, end: keyEnd });
      at = skipSpace(text, skipSpace(text, keyEnd) + 1);
    }
    const valueEnd = skipValue(text, at);
    items.push({ start: itemStart, end: valueEnd, key, value: { start: at, end: valueEnd } });
    at = skipSpace(text, valueEnd);
    if (text[at] === ',') at = skipSpace(text, at + 1);
  }
  return { kind, start, end: at + 1, items };
}

// The members of `object` named `key`: more than one is refused, since which one a program
// reads differs between parsers and an edit of one would leave the other in force.
export function findMember(object: Container, key: string, label: string): Item | undefined {
  const found = object.items.filter((item) => item.key === key);
  if (found.length > 1)
    throw new CodedError(
      'config_invalid',
      `${label} has "${printable(key)}" ${found.length} times; keep one by hand, nothing was changed`,
    );
  return found[0];
}

export function kindAt(text: string, span: Span): 'object' | 'array' | 'string' | 'other' {
  const first = text[span.start];
  return first === '{' ? 'object' : first === '[' ? 'array' : first === '"' ? 'string' : 'other';
}

export function decodeString(text: string, span: Span): string {
  const raw = text.slice(span.start, span.end);
  return raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
}

function skipSpace(text: string, at: number): number {
  while (at < text.length && (text[at] === ' ' || text[at] === '\n' || text[at] === '\r' || text[at] === '\t')) at++;
  return at;
}

function skipString(text: string, at: number): number {
  for (let i = at + 1; ; ) {
    const quote = text.indexOf('"', i);
    let backslashes = 0;
    while (text[quote - 1 - backslashes] === '\\') backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    i = quote + 1;
  }
}

// Past one value without building it: bracket depth counted, strings skipped whole, so deep
// nesting costs no stack.
function skipValue(text: string, at: number): number {
  if (text[at] === '"') return skipString(text, at);
  if (text[at] !== '{' && text[at] !== '[') {
    while (at < text.length && !',}] \t\r\n'.includes(text[at]!)) at++;
    return at;
  }
  let depth = 0;
  for (;;) {
    const c = text[at];
    if (c === '"') {
      at = skipString(text, at);
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return at + 1;
    }
    at++;
  }
}

function printable(key: string): string {
  return key.replace(/[^\x20-\x7e]/g, '?').slice(0, 80);
}
