import { describe, expect, it } from 'vitest';
import {
  byCodeUnit,
  escapeHelp,
  escapeLabelValue,
  familyHeader,
  formatLabels,
  formatSampleValue,
  sampleLine,
  sortedLabels,
} from '../../src/common/prometheus-text.ts';

describe('prometheus text', () => {
  it('sorts by code unit, not by locale: upper case before lower, "_" between them', () => {
    expect(['b', 'a_b', 'B', 'ab', 'a'].sort(byCodeUnit)).toEqual(['B', 'a', 'a_b', 'ab', 'b']);
    expect(Object.keys(sortedLabels({ status: '200', Route: 'x', kind: 'blob' }))).toEqual(['Route', 'kind', 'status']);
  });

  it('writes HELP before TYPE, escaping backslash and newline in HELP only', () => {
    expect(familyHeader('x_total', 'a \\ b\nc "q"', 'counter')).toEqual([
      '# HELP x_total a \\\\ b\\nc "q"',
      '# TYPE x_total counter',
    ]);
    expect(escapeHelp('plain')).toBe('plain');
  });

  it('escapes label values and keeps the order given', () => {
    expect(escapeLabelValue('q " b \\ n \n')).toBe('q \\" b \\\\ n \\n');
    expect(formatLabels({ z: '1', a: 'x"y' })).toBe('{z="1",a="x\\"y"}');
    expect(formatLabels({})).toBe('');
  });

  it('renders sample values the way Prometheus reads them', () => {
    expect(sampleLine('x_total', {}, 3)).toBe('x_total 3');
    expect(sampleLine('x_sum', { route: 'credentials' }, 0.25)).toBe('x_sum{route="credentials"} 0.25');
    expect([Number.NaN, Infinity, -Infinity, 1e-7].map(formatSampleValue)).toEqual(['NaN', '+Inf', '-Inf', '1e-7']);
  });
});
