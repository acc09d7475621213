import type { Route } from '../service-deps.ts';
import { sendJson } from '../http-io.ts';

// GET /healthz: liveness for load balancers; the Date header lets helpers check clock skew.
export const healthRoute: Route = async (_req, res) => {
  sendJson(res, 200, { status: 'ok' });
};

// GET /metrics: Prometheus text format.
export const metricsRoute: Route = async (_req, res, deps) => {
  const text = deps.metrics.render();
  res.writeHead(200, {
    'content-type': 'text/plain; version=0.0.4; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
};
