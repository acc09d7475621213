// The Prometheus text exposition format (0.0.4), the pieces both halves' /metrics share: the
// HELP/TYPE header of a family, a sample line, label escaping and the one sort order.

// Plain code-unit order: localeCompare would load ICU's collation data (tens of MiB of the
// binary's pages) into a process that should stay small. Every sort of names or labels in a
// rendering goes through this.
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export type PrometheusType = 'counter' | 'gauge' | 'histogram';

// `# HELP name text` then `# TYPE name type`: HELP escapes backslash and newline only.
export function familyHeader(name: string, help: string, type: PrometheusType): string[] {
  return [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`];
}

// `name{k="v",…} value`, labels in the order given (callers sort once, where they key series).
export function sampleLine(name: string, labels: Record<string, string>, value: number): string {
  return `${name}${formatLabels(labels)} ${formatSampleValue(value)}`;
}

// `{k="v",…}` in the order given, or '' for no labels.
export function formatLabels(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

// A label set in code-unit order of its names, as the one canonical form of a series.
export function sortedLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => byCodeUnit(a, b)));
}

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
