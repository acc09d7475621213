import { CodedError } from '../../../common/errors.ts';

export type TomlValue = string | number | boolean | TomlValue[] | { [key: string]: TomlValue };

export interface TomlTable {
  path: string[];
  arrayItem: boolean;
  values: Map<string, TomlValue>;
  // Where the header line and each key's line(s) are, from the start of the line to after its
  // newline: for edits that replace one key and keep every other byte.
  header?: LineSpan;
  spans: Map<string, LineSpan>;
}

export interface LineSpan {
  start: number;
  end: number;
}

// A reader for the TOML that hosts.toml and registries.conf use: tables, arrays of tables,
// key = value with strings, numbers, booleans, arrays and inline tables. Whatever it cannot
// read (multi-line strings, dates) is refused, so we never append to a file we did not understand.
export function readToml(text: string, label: string): TomlTable[] {
  return new TomlReader(text, label).read();
}

class TomlReader {
  private pos = 0;
  private readonly tables: TomlTable[] = [{ path: [], arrayItem: false, values: new Map(), spans: new Map() }];
  private readonly seenTables = new Set<string>();

  constructor(
    private readonly text: string,
    private readonly label: string,
  ) {}

  read(): TomlTable[] {
    for (;;) {
      this.skipBlank(true);
      if (this.pos >= this.text.length) return this.tables;
      const start = this.text.lastIndexOf('\n', this.pos - 1) + 1;
      const header = this.peek() === '[';
      const key = header ? this.readHeader() : this.readKeyValue();
      this.endOfLine();
      const end = this.text.startsWith('\r\n', this.pos)
        ? this.pos + 2
        : this.text[this.pos] === '\n'
          ? this.pos + 1
          : this.pos;
      const table = this.tables[this.tables.length - 1]!;
      if (key === undefined) table.header = { start, end };
      else table.spans.set(key, { start, end });
    }
  }

  private readHeader(): undefined {
    const arrayItem = this.text.startsWith('[[', this.pos);
    this.pos += arrayItem ? 2 : 1;
    const path = this.readKey();
    this.skipSpaces();
    if (!this.text.startsWith(arrayItem ? ']]' : ']', this.pos)) this.fail('a table header is not closed');
    this.pos += arrayItem ? 2 : 1;
    const id = JSON.stringify(path);
    if (!arrayItem) {
      if (this.seenTables.has(id)) this.fail(`table [${path.join('.')}] is defined twice`);
      this.seenTables.add(id);
    }
    this.tables.push({ path, arrayItem, values: new Map(), spans: new Map() });
    return undefined;
  }

  private readKeyValue(): string {
    const key = this.readKey().join('.');
    this.skipSpaces();
    if (this.peek() !== '=') this.fail('expected "=" after a key');
    this.pos += 1;
    this.skipSpaces();
    const value = this.readValue();
    const table = this.tables[this.tables.length - 1]!;
    if (table.values.has(key)) this.fail(`key "${key}" is defined twice`);
    table.values.set(key, value);
    return key;
  }

  private readKey(): string[] {
    const parts: string[] = [];
    for (;;) {
      this.skipSpaces();
      const ch = this.peek();
      if (ch === '"' || ch === "'") parts.push(this.readString());
      else {
        const match = /^[A-Za-z0-9_-]+/.exec(this.text.slice(this.pos));
        if (!match) this.fail('expected a key');
        parts.push(match[0]);
        this.pos += match[0].length;
      }
      this.skipSpaces();
      if (this.peek() !== '.') return parts;
      this.pos += 1;
    }
  }

  private readValue(): TomlValue {
    const ch = this.peek();
    if (ch === '"' || ch === "'") return this.readString();
    if (ch === '[') return this.readArray();
    if (ch === '{') return this.readInlineTable();
    const match =
      /^(true|false|[+-]?(?:0|[1-9][0-9_]*)(?:\.[0-9_]+)?(?:[eE][+-]?[0-9]+)?|0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+)(?=[\s,\]}#]|$)/.exec(
        this.text.slice(this.pos),
      );
    if (!match)
      this.unsupported(
        'a value this tool does not read (dates and the like; it reads strings, numbers, booleans, arrays, inline tables)',
      );
    this.pos += match[0].length;
    if (match[0] === 'true') return true;
    if (match[0] === 'false') return false;
    return Number(match[0].replace(/_/g, ''));
  }

  private readString(): string {
    const quote = this.peek();
    if (this.text.startsWith(quote.repeat(3), this.pos)) this.unsupported('a multi-line string');
    this.pos += 1;
    let out = '';
    for (;;) {
      const ch = this.text[this.pos];
      if (ch === undefined || ch === '\n') this.fail('a string is not closed on its line');
      this.pos += 1;
      if (ch === quote) return out;
      if (ch === '\\' && quote === '"') {
        const esc = this.text[this.pos];
        this.pos += 1;
        const simple: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' };
        if (esc !== undefined && simple[esc] !== undefined) out += simple[esc];
        else if (esc === 'u' || esc === 'U') {
          const len = esc === 'u' ? 4 : 8;
          const hex = this.text.slice(this.pos, this.pos + len);
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) this.fail('a bad \\u escape');
          out += String.fromCodePoint(parseInt(hex, 16));
          this.pos += len;
        } else this.fail('an unknown escape in a string');
      } else out += ch;
    }
  }

  private readArray(): TomlValue[] {
    this.pos += 1;
    const items: TomlValue[] = [];
    for (;;) {
      this.skipBlank(true);
      if (this.peek() === ']') {
        this.pos += 1;
        return items;
      }
      items.push(this.readValue());
      this.skipBlank(true);
      if (this.peek() === ',') this.pos += 1;
      else if (this.peek() !== ']') this.fail('expected "," or "]" in an array');
    }
  }

  private readInlineTable(): { [key: string]: TomlValue } {
    this.pos += 1;
    const out: { [key: string]: TomlValue } = {};
    this.skipSpaces();
    if (this.peek() === '}') {
      this.pos += 1;
      return out;
    }
    for (;;) {
      const key = this.readKey().join('.');
      this.skipSpaces();
      if (this.peek() !== '=') this.fail('expected "=" in an inline table');
      this.pos += 1;
      this.skipSpaces();
      out[key] = this.readValue();
      this.skipSpaces();
      if (this.peek() === ',') this.pos += 1;
      else if (this.peek() === '}') {
        this.pos += 1;
        return out;
      } else this.fail('expected "," or "}" in an inline table');
    }
  }

  private endOfLine(): void {
    this.skipSpaces();
    if (this.peek() === '#') this.skipComment();
    if (this.pos < this.text.length && this.peek() !== '\n' && !this.text.startsWith('\r\n', this.pos))
      this.fail('unexpected text after a value');
  }

  private skipBlank(newlines: boolean): void {
    for (;;) {
      this.skipSpaces();
      const ch = this.peek();
      if (ch === '#') this.skipComment();
      else if (newlines && (ch === '\n' || ch === '\r')) this.pos += 1;
      else return;
    }
  }

  private skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos += 1;
  }

  private skipComment(): void {
    while (this.pos < this.text.length && this.peek() !== '\n') this.pos += 1;
  }

  private peek(): string {
    return this.text[this.pos] ?? '';
  }

  private fail(why: string): never {
    throw new CodedError(
      'config_invalid',
      `${this.label} is not valid TOML (line ${this.line()}: ${why}); fix or move it, nothing was changed`,
    );
  }

  // Valid TOML, maybe, but beyond this small reader: say so rather than call the file broken.
  private unsupported(what: string): never {
    throw new CodedError(
      'config_invalid',
      `${this.label} uses TOML this tool does not edit (line ${this.line()}: ${what}); add the mirror by hand or move the file aside, nothing was changed`,
    );
  }

  private line(): number {
    return this.text.slice(0, this.pos).split('\n').length;
  }
}
