import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS, MAX_SERIES_PER_METRIC, createMetrics } from '../../../src/service/observability/metrics.ts';

// The Prometheus text format, line by line: HELP/TYPE comments, then samples
// `name{label="value",…} number` with escaped label values.
const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"(?:,(?=[a-zA-Z_]))?)*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$/;
function validate(text: string): {
  types: Map<string, string>;
  samples: Array<{ name: string; labels: string; value: number }>;
} {
  expect(text.endsWith('\n')).toBe(true);
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const samples: Array<{ name: string; labels: string; value: number }> = [];
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (help) {
      helped.add(help[1]!);
      continue;
    }
    if (type) {
      expect(helped.has(type[1]!), `HELP before TYPE for ${type[1]}`).toBe(true);
      expect(types.has(type[1]!), `one TYPE per metric: ${type[1]}`).toBe(false);
      types.set(type[1]!, type[2]!);
      continue;
    }
    const sample = SAMPLE.exec(line);
    expect(sample, `not a valid sample line: ${JSON.stringify(line)}`).not.toBeNull();
    const name = sample![1]!;
    const family = [...types.keys()].find(
      (f) => name === f || (types.get(f) === 'histogram' && /^(.*)_(bucket|sum|count)$/.exec(name)?.[1] === f),
    );
    expect(family, `sample ${name} follows its TYPE line`).toBeDefined();
    samples.push({ name, labels: sample![2] ?? '', value: Number(sample![3]) });
  }
  return { types, samples };
}

describe('metrics', () => {
  it('renders nothing before anything happened', () => {
    expect(createMetrics().render()).toBe('');
  });

  it('counts per label set, with HELP and TYPE lines', () => {
    const metrics = createMetrics();
    metrics.increment('dstack_registry_auth_requests_total', { route: 'credentials', status: '200' });
    metrics.increment('dstack_registry_auth_requests_total', { status: '200', route: 'credentials' });
    metrics.increment('dstack_registry_auth_requests_total', { route: 'credentials', status: '401' }, 3);
    metrics.increment('plain_total');
    const text = metrics.render();
    const { types, samples } = validate(text);
    expect(types.get('dstack_registry_auth_requests_total')).toBe('counter');
    expect(text).toContain('# HELP dstack_registry_auth_requests_total HTTP requests answered, by route and status.\n');
    expect(samples).toContainEqual({
      name: 'dstack_registry_auth_requests_total',
      labels: '{route="credentials",status="200"}',
      value: 2,
    });
    expect(samples).toContainEqual({
      name: 'dstack_registry_auth_requests_total',
      labels: '{route="credentials",status="401"}',
      value: 3,
    });
    expect(samples).toContainEqual({ name: 'plain_total', labels: '', value: 1 });
  });

  it('escapes label values and sanitises names', () => {
    const metrics = createMetrics();
    metrics.increment('weird-name.total', { 'bad-label': 'quote " backslash \\ newline \n end' });
    const text = metrics.render();
    validate(text);
    expect(text).toContain('weird_name_total{bad_label="quote \\" backslash \\\\ newline \\n end"} 1\n');
  });

  it('renders histograms with cumulative _bucket lines, +Inf, _sum and _count', () => {
    const metrics = createMetrics();
    const name = 'dstack_registry_auth_request_duration_seconds';
    for (const seconds of [0.0004, 0.003, 0.003, 0.2, 42]) metrics.observe(name, seconds, { route: 'credentials' });
    metrics.observe(name, Number.NaN, { route: 'credentials' });
    const { types, samples } = validate(metrics.render());
    expect(types.get(name)).toBe('histogram');
    const buckets = samples.filter((s) => s.name === `${name}_bucket`);
    expect(buckets.map((b) => /le="([^"]+)"/.exec(b.labels)![1])).toEqual([...LATENCY_BUCKETS.map(String), '+Inf']);
    const byLe = Object.fromEntries(buckets.map((b) => [/le="([^"]+)"/.exec(b.labels)![1]!, b.value]));
    expect(byLe['0.0005']).toBe(1);
    expect(byLe['0.0025']).toBe(1);
    expect(byLe['0.005']).toBe(3);
    expect(byLe['0.25']).toBe(4);
    expect(byLe['10']).toBe(4);
    expect(byLe['+Inf']).toBe(5);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(samples.find((s) => s.name === `${name}_count`)).toEqual({
      name: `${name}_count`,
      labels: '{route="credentials"}',
      value: 5,
    });
    expect(samples.find((s) => s.name === `${name}_sum`)!.value).toBeCloseTo(42.2064, 6);
    expect(buckets[0]!.labels).toBe('{route="credentials",le="0.0005"}');
  });

  it('refuses to use one name as both counter and histogram', () => {
    const metrics = createMetrics();
    metrics.increment('x_total');
    expect(() => metrics.observe('x_total', 1)).toThrow(/counter/);
  });

  it('bounds the number of series per metric', () => {
    const metrics = createMetrics();
    for (let i = 0; i < MAX_SERIES_PER_METRIC + 50; i++) metrics.increment('by_registry_total', { registry: `r${i}` });
    const { samples } = validate(metrics.render());
    expect(samples).toHaveLength(MAX_SERIES_PER_METRIC + 1);
    expect(samples).toContainEqual({ name: 'by_registry_total', labels: '{registry="_overflow"}', value: 50 });
  });
});

describe('metrics on the hot path (label sets resolved once)', () => {
  it('keeps label sets apart that only a naive key would merge, and counts repeats together', () => {
    const metrics = createMetrics();
    for (let i = 0; i < 3; i++) {
      metrics.increment('pairs_total', { a: 'b', c: 'd' });
      metrics.increment('pairs_total', { a: 'b1:c1:d' });
      metrics.increment('pairs_total', { a: 'b\u0000c', c: 'd' });
      metrics.increment('pairs_total', { c: 'd', a: 'b' });
    }
    const { samples } = validate(metrics.render());
    expect(samples).toContainEqual({ name: 'pairs_total', labels: '{a="b",c="d"}', value: 6 });
    expect(samples).toContainEqual({ name: 'pairs_total', labels: '{a="b1:c1:d"}', value: 3 });
    expect(samples.filter((s) => s.name === 'pairs_total')).toHaveLength(3);
  });

  it('stays exact and bounded when more label sets arrive than it remembers', () => {
    const metrics = createMetrics();
    const total = 2 * MAX_SERIES_PER_METRIC + 10;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < total; i++) metrics.increment('many_total', { registry: `r${i}` });
    }
    const { samples } = validate(metrics.render());
    expect(samples).toHaveLength(MAX_SERIES_PER_METRIC + 1);
    expect(samples).toContainEqual({ name: 'many_total', labels: '{registry="r0"}', value: 2 });
    expect(samples).toContainEqual({
      name: 'many_total',
      labels: '{registry="_overflow"}',
      value: 2 * (total - MAX_SERIES_PER_METRIC),
    });
  });

  it('names that sanitise alike are one metric, and a histogram sample lands in one bucket', () => {
    const metrics = createMetrics();
    metrics.increment('same-name_total', { x: '1' });
    metrics.increment('same_name_total', { x: '1' });
    metrics.observe('lat_seconds', 0.001, {});
    metrics.observe('lat_seconds', 99, {});
    const { samples } = validate(metrics.render());
    expect(samples).toContainEqual({ name: 'same_name_total', labels: '{x="1"}', value: 2 });
    expect(samples).toContainEqual({ name: 'lat_seconds_bucket', labels: '{le="0.001"}', value: 1 });
    expect(samples).toContainEqual({ name: 'lat_seconds_bucket', labels: '{le="10"}', value: 1 });
    expect(samples).toContainEqual({ name: 'lat_seconds_bucket', labels: '{le="+Inf"}', value: 2 });
  });
});
