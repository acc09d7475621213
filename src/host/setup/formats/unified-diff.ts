// A unified diff of two small texts (config files), for --dry-run: what `diff -u` would show.
export function unifiedDiff(path: string, before: string | undefined, after: string | undefined, context = 3): string {
  const a = splitLines(before ?? '');
  const b = splitLines(after ?? '');
  const ops = diffLines(a, b);
  if (!ops.some((op) => op.kind !== ' ')) return '';
  const header = `--- ${before === undefined ? '/dev/null' : `a${path}`}\n+++ ${after === undefined ? '/dev/null' : `b${path}`}\n`;
  return header + hunks(ops, context).join('');
}

interface Op {
  kind: ' ' | '-' | '+';
  line: string;
  aIndex: number;
  bIndex: number;
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else lines[lines.length - 1] += '\n\\ No newline at end of file';
  return lines;
}

function diffLines(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) ops.push({ kind: ' ', line: a[i++]!, aIndex: i, bIndex: ++j });
    else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!))
      ops.push({ kind: '-', line: a[i++]!, aIndex: i, bIndex: j });
    else ops.push({ kind: '+', line: b[j++]!, aIndex: i, bIndex: j });
  }
  return ops;
}

function hunks(ops: Op[], context: number): string[] {
  const out: string[] = [];
  let k = 0;
  while (k < ops.length) {
    while (k < ops.length && ops[k]!.kind === ' ') k++;
    if (k >= ops.length) break;
    const start = Math.max(0, k - context);
    let end = k;
    let lastChange = k;
    while (end < ops.length && end - lastChange <= context * 2) {
      if (ops[end]!.kind !== ' ') lastChange = end;
      end++;
    }
    end = Math.min(ops.length, lastChange + context + 1);
    const slice = ops.slice(start, end);
    const aStart = countBefore(ops, start, '+');
    const bStart = countBefore(ops, start, '-');
    const aLen = slice.filter((op) => op.kind !== '+').length;
    const bLen = slice.filter((op) => op.kind !== '-').length;
    out.push(`@@ -${range(aStart, aLen)} +${range(bStart, bLen)} @@\n`);
    for (const op of slice) out.push(`${op.kind}${redactLine(op.line)}\n`);
    k = end;
  }
  return out;
}

function countBefore(ops: Op[], index: number, skip: '+' | '-'): number {
  return ops.slice(0, index).filter((op) => op.kind !== skip).length;
}

function range(start: number, length: number): string {
  return length === 0 ? `${start},0` : `${start + 1},${length}`;
}

// The files we diff hold other programs' secrets too (config.json `auths`, a hosts.toml
// Authorization header); a diff on a terminal or in a CI log must not show them.
const JSON_SECRET = /("(?:auth|identitytoken|registrytoken|password|secret|token)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;
const TOML_SECRET = /^(\s*"?(?:authorization|auth|password|secret|token|identitytoken)"?\s*=\s*).+$/i;

export function redactLine(line: string): string {
  return line.replace(JSON_SECRET, '$1"[redacted]"').replace(TOML_SECRET, '$1"[redacted]"');
}
