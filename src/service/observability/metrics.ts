import { byCodeUnit, familyHeader, sampleLine } from '../../common/prometheus-text.ts';
import type { Metrics } from '../core/ports.ts';

export { escapeLabelValue } from '../../common/prometheus-text.ts';

// Latency buckets in seconds: the credential endpoint should answer in well under 10 ms;
// the upper buckets catch a slow revocation store.
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

// Label values can come from requests (a registry name); past this many series a metric
// folds new label sets into one `_overflow` series instead of growing without bound.
export const MAX_SERIES_PER_METRIC = 1000;

const HELP: Record<string, string> = {
  dstack_registry_auth_requests_total: 'HTTP requests answered, by route and status.',
  dstack_registry_auth_request_duration_seconds: 'Time to answer an HTTP request, by route.',
  dstack_registry_auth_failures_total: 'Requests that failed, by route and reason (error code).',
  dstack_registry_auth_issuances_total: 'Credentials issued to instances, by source and registry.',
  dstack_registry_auth_realm_requests_total: 'Token realm requests, by outcome and reason.',
  dstack_registry_auth_realm_request_duration_seconds: 'Time to answer a token realm request, by outcome.',
  dstack_registry_auth_broker_token_requests_total:
    "Broker source: token requests to a registry's own realm, by registry and outcome (granted, no_pull, refused, failed).",
  dstack_registry_auth_broker_token_request_duration_seconds:
    "Broker source: time for a registry's realm to answer a token request (retries included), by registry.",
  dstack_registry_auth_cloud_token_requests_total:
    'Cloud sources (ecr, gar, acr): credentials asked of the vendor, by source, registry and outcome (minted, no_credentials, bad_request, denied, throttled, vendor_error, unreachable, bad_answer).',
  dstack_registry_auth_cloud_token_request_duration_seconds:
    "Cloud sources: time for the vendor's API to mint a credential (the SDK's retries included), by source and registry.",
  dstack_registry_auth_cloud_token_cache_total:
    'Cloud sources: credential lookups by source, registry and result (hit: cached; joined: waited for a mint in flight; miss: minted).',
  dstack_registry_auth_broker_token_cache_total:
    'Broker source: token lookups by registry and result (hit: cached; joined: waited for a request in flight; miss: asked the realm).',
};

interface Series {
  labels: Record<string, string>;
  value: number; // counter value, or histogram sum
  count: number;
  buckets: number[]; // per-bucket (non-cumulative) counts
}

interface Family {
  type: 'counter' | 'histogram';
  series: Map<string, Series>;
  // Label sets as callers pass them (rawLabelKey) → their series, so a repeated sample skips
  // cleaning, sorting and keying. Bounded: label values can come from requests.
  resolved: Map<string, Series>;
}

// Counters and latency histograms in memory, rendered in the Prometheus text format
// (version 0.0.4). Names and label names are sanitised; label values are escaped.
export function createMetrics(): Metrics {
  const families = new Map<string, Family>();
  // Hot path: every request records three samples, so a name is sanitised once and a label
  // set is resolved to its series once (Family.resolved).
  const byRawName = new Map<string, Family>();

  const familyOf = (rawName: string, type: Family['type']): Family => {
    let family = byRawName.get(rawName);
    if (!family) {
      const name = sanitizeName(rawName);
      family = families.get(name);
      if (!family) {
        family = { type, series: new Map(), resolved: new Map() };
        families.set(name, family);
      }
      byRawName.set(rawName, family);
    }
    if (family.type !== type) throw new Error(`metric ${sanitizeName(rawName)} is a ${family.type}, not a ${type}`);
    return family;
  };

  const seriesOf = (rawName: string, type: Family['type'], labels: Record<string, string> = {}): Series => {
    const family = familyOf(rawName, type);
    const raw = rawLabelKey(labels);
    const known = family.resolved.get(raw);
    if (known) return known;
    let clean = cleanLabels(labels);
    let key = JSON.stringify(clean);
    if (!family.series.has(key) && family.series.size >= MAX_SERIES_PER_METRIC) {
      clean = Object.fromEntries(Object.keys(clean).map((k) => [k, '_overflow']));
      key = JSON.stringify(clean);
    }
    let series = family.series.get(key);
    if (!series) {
      series = { labels: clean, value: 0, count: 0, buckets: type === 'histogram' ? LATENCY_BUCKETS.map(() => 0) : [] };
      family.series.set(key, series);
    }
    if (family.resolved.size >= 2 * MAX_SERIES_PER_METRIC) family.resolved.clear();
    family.resolved.set(raw, series);
    return series;
  };

  return {
    increment(name, labels, by = 1) {
      if (!(by >= 0)) return;
      seriesOf(name, 'counter', labels).value += by;
    },
    observe(name, seconds, labels) {
      if (!Number.isFinite(seconds) || seconds < 0) return;
      const series = seriesOf(name, 'histogram', labels);
      series.value += seconds;
      series.count += 1;
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
        if (seconds <= LATENCY_BUCKETS[i]!) {
          series.buckets[i]! += 1;
          break;
        }
      }
    },
    render() {
      const lines: string[] = [];
      for (const [name, family] of [...families].sort(([a], [b]) => byCodeUnit(a, b))) {
        lines.push(...familyHeader(name, HELP[name] ?? name.replace(/_/g, ' '), family.type));
        for (const series of family.series.values()) {
          if (family.type === 'counter') {
            lines.push(sampleLine(name, series.labels, series.value));
            continue;
          }
          let cumulative = 0;
          LATENCY_BUCKETS.forEach((le, i) => {
            cumulative += series.buckets[i]!;
            lines.push(sampleLine(`${name}_bucket`, { ...series.labels, le: String(le) }, cumulative));
          });
          lines.push(sampleLine(`${name}_bucket`, { ...series.labels, le: '+Inf' }, series.count));
          lines.push(sampleLine(`${name}_sum`, series.labels, series.value));
          lines.push(sampleLine(`${name}_count`, series.labels, series.count));
        }
      }
      return lines.length ? `${lines.join('\n')}\n` : '';
    },
  };
}

function sanitizeName(name: string): string {
  const clean = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[a-zA-Z_:]/.test(clean) ? clean : `_${clean}`;
}

// A label set as given, names and values in the caller's order. Each part is prefixed with
// its length, so no two different label sets share a key whatever characters they contain.
function rawLabelKey(labels: Record<string, string>): string {
  let key = '';
  for (const name of Object.keys(labels)) {
    const value = String(labels[name]);
    key += `${name.length}:${name}${value.length}:${value}`;
  }
  return key;
}

function cleanLabels(labels: Record<string, string>): Record<string, string> {
  const entries = Object.entries(labels)
    .map(([k, v]) => {
      const key = k.replace(/[^a-zA-Z0-9_]/g, '_');
      return [/^[a-zA-Z_]/.test(key) ? key : `_${key}`, typeof v === 'string' ? v : String(v)] as const;
    })
    .filter(([k]) => k !== 'le' && !k.startsWith('__'))
    .sort(([a], [b]) => byCodeUnit(a, b));
  return Object.fromEntries(entries);
}
