import type { Container, Span } from './json-text.ts';

// Text edits of a JSON file that touch only the items they add or remove, laid out like the
// items already there (same separator, indentation and line ending), so that adding and then
// removing an item gives back the same bytes.
export interface JsonStyle {
  newline: string;
  unit: string;
  multiline: boolean;
}

// The file's own layout: its line ending, the indentation of the root's members (or the
// default for a file that shows none), and whether members sit on lines of their own.
export function documentStyle(text: string | undefined, root: Container | undefined, defaultUnit: string): JsonStyle {
  const newline = text?.includes('\r\n') ? '\r\n' : '\n';
  if (!text || !root || root.items.length === 0) return { newline, unit: defaultUnit, multiline: true };
  const lead = text.slice(root.start + 1, root.items[0]!.start);
  const multiline = lead.includes('\n');
  const indent = lead.slice(lead.lastIndexOf('\n') + 1);
  return { newline, unit: multiline && indent !== '' ? indent : defaultUnit, multiline };
}

// A whole new file holding `items` (for a missing or blank file; a BOM alone is kept).
export function newDocument(text: string | undefined, items: string[], style: JsonStyle): string {
  const bom = text?.startsWith('\uFEFF') ? '\uFEFF' : '';
  const nl = style.newline;
  return `${bom}{${nl}${style.unit}${items.join(`,${nl}${style.unit}`)}${nl}}${nl}`;
}

// Adds items (already formatted: `"key": value` or a value) after the container's last one.
export function appendItems(text: string, container: Container, items: string[], style: JsonStyle): string {
  if (items.length === 0) return text;
  const n = container.items.length;
  if (n === 0) {
    const outer = lineIndent(text, container.start);
    const inner = style.multiline ? `${style.newline}${outer}${style.unit}` : '';
    const body = style.multiline ? `${inner}${items.join(`,${inner}`)}${style.newline}${outer}` : items.join(', ');
    return splice(text, { start: container.start + 1, end: container.end - 1 }, body);
  }
  const separator = itemSeparator(text, container);
  const last = container.items[n - 1]!;
  return splice(text, { start: last.end, end: last.end }, items.map((item) => separator + item).join(''));
}

// Removes the items at `indexes`, each with the separator that appendItems would have added.
export function removeItems(text: string, container: Container, indexes: number[]): string {
  const items = [...container.items];
  const remove = new Set(indexes);
  if (remove.size === items.length) return splice(text, { start: container.start + 1, end: container.end - 1 }, '');
  // From the last down: every position still needed lies before the text already removed.
  for (let i = items.length - 1; i >= 0; i--) {
    if (!remove.has(i)) continue;
    const isLast = i === items.length - 1;
    const span = isLast
      ? { start: items[i - 1]!.end, end: items[i]!.end }
      : { start: items[i]!.start, end: items[i + 1]!.start };
    text = splice(text, span, '');
    items.splice(i, 1);
  }
  return text;
}

// The indentation an item appended to `container` gets: that of its items, or one unit more
// than the container's own line when it is empty.
export function itemIndent(text: string, container: Container, style: JsonStyle): string {
  if (container.items.length === 0) return lineIndent(text, container.start) + style.unit;
  const separator = itemSeparator(text, container);
  return separator.includes('\n') ? separator.slice(separator.lastIndexOf('\n') + 1) : '';
}

// Whether items appended to `container` go on lines of their own.
export function isMultiline(text: string, container: Container, style: JsonStyle): boolean {
  return container.items.length === 0 ? style.multiline : itemSeparator(text, container).includes('\n');
}

// A new container of formatted items (`"key": value` or values), as a value that starts at an
// item indented by `indent`.
export function formatContainer(
  brackets: '{}' | '[]',
  items: string[],
  indent: string,
  multiline: boolean,
  style: JsonStyle,
): string {
  const [open, close] = brackets;
  if (items.length === 0) return brackets;
  if (!multiline) return `${open}${items.join(', ')}${close}`;
  const inner = `${style.newline}${indent}${style.unit}`;
  return `${open}${inner}${items.join(`,${inner}`)}${style.newline}${indent}${close}`;
}

export function memberText(key: string, valueText: string): string {
  return `${JSON.stringify(key)}: ${valueText}`;
}

export function splice(text: string, span: Span, replacement: string): string {
  return text.slice(0, span.start) + replacement + text.slice(span.end);
}

// Between the last two items, or made from the whitespace before the only one.
function itemSeparator(text: string, container: Container): string {
  const items = container.items;
  if (items.length >= 2) return text.slice(items[items.length - 2]!.end, items[items.length - 1]!.start);
  const lead = text.slice(container.start + 1, items[0]!.start);
  if (!lead.includes('\n')) return ', ';
  const lineStart = lead.lastIndexOf('\n');
  const newline = lead[lineStart - 1] === '\r' ? '\r\n' : '\n';
  return `,${newline}${lead.slice(lineStart + 1)}`;
}

function lineIndent(text: string, at: number): string {
  const lineStart = text.lastIndexOf('\n', at - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart, at))![0];
}
