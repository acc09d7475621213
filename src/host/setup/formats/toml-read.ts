import { parse, TomlDate, TomlError } from 'smol-toml';
import { CodedError } from '../../../common/errors.ts';
import type { TomlTable, TomlValue } from './toml-lite.ts';

// Reading a TOML file that other programs own (hosts.toml, registries.conf, config.toml) with a
// full TOML parser, so valid TOML (dates, multi-line strings, dotted keys) is never refused for
// being read. The result has the shape of toml-lite's tables (path, array item, the table's own
// values; sub-tables and arrays of tables are tables of their own, in the file's nesting
// order), without line spans: the byte-preserving edits (toml-lite.ts) keep their own scanner.
export function readTomlTables(text: string, label: string): TomlTable[] {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (error) {
    const where = error instanceof TomlError ? ` (line ${error.line}, column ${error.column})` : '';
    const first = (error as Error).message.split('\n')[0]!.slice(0, 200);
    throw new CodedError(
      'config_invalid',
      `${label} is not valid TOML${where}: ${first}; fix or move it, nothing was changed`,
    );
  }
  const tables: TomlTable[] = [];
  walk(doc, [], false, tables);
  return tables;
}

function walk(node: Record<string, unknown>, path: string[], arrayItem: boolean, out: TomlTable[]): void {
  const table: TomlTable = { path, arrayItem, values: new Map(), spans: new Map() };
  out.push(table);
  const children: Array<() => void> = [];
  for (const [key, value] of Object.entries(node)) {
    if (isTable(value)) children.push(() => walk(value, [...path, key], false, out));
    else if (Array.isArray(value) && value.length > 0 && value.every(isTable))
      children.push(() => {
        for (const item of value) walk(item as Record<string, unknown>, [...path, key], true, out);
      });
    else table.values.set(key, plain(value));
  }
  for (const child of children) child();
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof TomlDate);
}

// Dates read as their TOML text; everything else is already a TomlValue.
function plain(value: unknown): TomlValue {
  if (value instanceof TomlDate) return value.toISOString();
  if (Array.isArray(value)) return value.map(plain);
  if (isTable(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value as TomlValue;
}
