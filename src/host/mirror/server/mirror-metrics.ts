import { byCodeUnit, familyHeader, formatLabels, sortedLabels } from '../../../common/prometheus-text.ts';

// The endpoint's counters, rendered as Prometheus text (0.0.4) at GET /metrics. Every label
// value comes from a small fixed set (route kinds, HTTP statuses, cause words), never from a
// request's name, so the series stay few.
const HELP = {
  dstack_mirror_requests_total:
    'Requests answered, by kind (ping, manifest, blob, tags; other: refused before routing, such as a push or a bad name) and status.',
  dstack_mirror_response_bytes_total: 'Body bytes sent to engines, by kind.',
  dstack_mirror_upstream_errors_total:
    'Pulls that failed, by cause (service_unreachable, credential_refused, upstream_401, upstream_404, upstream_5xx, …).',
  dstack_mirror_credential_requests_total: 'Credential requests sent to the dstack server (cache misses), by outcome.',
  dstack_mirror_registry_token_requests_total: 'Registry tokens fetched from upstream token realms.',
  dstack_mirror_refused_peers_total: 'Connections refused because the peer uid is not allowed.',
  dstack_mirror_connections_total: 'Connections accepted.',
  dstack_mirror_capped_connections_total:
    'Connections closed at once because their uid already held --max-connections-per-uid.',
  dstack_mirror_peer_lookup_failures_total:
    'Connections answered 503 because the kernel socket table could not be read (EMFILE: out of descriptors).',
} as const;

// Counters without labels show 0 before their first event.
const UNLABELLED = new Set<MirrorMetricName>([
  'dstack_mirror_refused_peers_total',
  'dstack_mirror_registry_token_requests_total',
  'dstack_mirror_connections_total',
  'dstack_mirror_capped_connections_total',
  'dstack_mirror_peer_lookup_failures_total',
]);

export type MirrorMetricName = keyof typeof HELP;

export interface MirrorMetrics {
  increment(name: MirrorMetricName, labels?: Record<string, string>, by?: number): void;
  render(): string;
}

export function createMirrorMetrics(): MirrorMetrics {
  const values = new Map<MirrorMetricName, Map<string, number>>();
  return {
    increment(name, labels = {}, by = 1) {
      let family = values.get(name);
      if (!family) {
        family = new Map();
        values.set(name, family);
      }
      const key = labelText(labels);
      family.set(key, (family.get(key) ?? 0) + by);
    },
    render() {
      const lines: string[] = [];
      for (const name of Object.keys(HELP) as MirrorMetricName[]) {
        lines.push(...familyHeader(name, HELP[name], 'counter'));
        const family = values.get(name);
        if (!family || family.size === 0) {
          if (UNLABELLED.has(name)) lines.push(`${name} 0`);
          continue;
        }
        for (const [labels, value] of [...family].sort(([a], [b]) => byCodeUnit(a, b)))
          lines.push(`${name}${labels} ${value}`);
      }
      return `${lines.join('\n')}\n`;
    },
  };
}

// The series key is the rendered label text, names in code-unit order, so a label set given
// in any order counts as one series.
function labelText(labels: Record<string, string>): string {
  return formatLabels(sortedLabels(labels));
}
