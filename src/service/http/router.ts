import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Route, ServiceDeps } from './service-deps.ts';
import { CodedError } from '../../common/errors.ts';
import { sendFailure } from './error-response.ts';

// An endpoint: a fixed metrics label and its handler per method.
export interface Endpoint {
  name: string;
  methods: Partial<Record<string, Route>>;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

// Dispatches by exact path and method, and measures every request: count by route and status,
// latency by route, failures by route and reason. Labels come from this table, never from the
// request, so a scanner cannot blow up the metrics and no secret can become a label.
export function createRouter(endpoints: Record<string, Endpoint>, deps: ServiceDeps): RequestHandler {
  const table = new Map(Object.entries(endpoints));
  return (req, res) => {
    const started = performance.now();
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const endpoint = table.get(path);
    const route = endpoint?.name ?? 'unknown';
    res.once('close', () => {
      deps.metrics.increment('dstack_registry_auth_requests_total', { route, status: String(res.statusCode) });
      deps.metrics.observe('dstack_registry_auth_request_duration_seconds', (performance.now() - started) / 1000, {
        route,
      });
    });
    const handle = async () => {
      if (!endpoint) throw new CodedError('not_found', 'no such endpoint; see docs/contract.md');
      const method = req.method ?? 'GET';
      const run = endpoint.methods[method];
      if (!run) {
        res.setHeader('allow', Object.keys(endpoint.methods).join(', '));
        throw new CodedError(
          'method_not_allowed',
          `${method} is not allowed on ${path}; use ${Object.keys(endpoint.methods).join(' or ')}`,
        );
      }
      await run(req, res, deps);
    };
    handle().catch((error: unknown) => {
      const reason = sendFailure(res, error, deps.log);
      deps.metrics.increment('dstack_registry_auth_failures_total', { route, reason });
    });
  };
}
