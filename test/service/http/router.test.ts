import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRouter } from '../../../src/service/http/router.ts';
import { createMetrics } from '../../../src/service/observability/metrics.ts';
import type { ServiceDeps } from '../../../src/service/http/service-deps.ts';
import { CodedError } from '../../../src/common/errors.ts';

const logLines: string[] = [];
const metrics = createMetrics();
let server: Server;
let url: string;
beforeAll(async () => {
  const deps = { metrics, log: (line: string) => logLines.push(line) } as unknown as ServiceDeps;
  const handler = createRouter(
    {
      '/boom': {
        name: 'boom',
        methods: {
          GET: async () => {
            throw new TypeError('cannot read x of undefined\n    at secretPath (/srv/app/internal.ts:12:3)');
          },
        },
      },
      '/store': {
        name: 'store',
        methods: {
          GET: async () => {
            throw new CodedError('unavailable', 'store at postgres://u:***@db.internal:5432 is down');
          },
        },
      },
      '/limited': {
        name: 'limited',
        methods: {
          GET: async () => {
            throw new CodedError('rate_limited', 'too many requests from this instance; retry in a few seconds');
          },
        },
      },
    },
    deps,
  );
  server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('router error mapping', () => {
  it('answers an unexpected failure with 500 internal and a generic line; the cause goes to the log as one line', async () => {
    const res = await fetch(`${url}/boom`);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: 'internal', message: expect.stringContaining('service log') });
    expect(text).not.toContain('internal.ts');
    expect(text).not.toContain('TypeError');
    const line = logLines.find((l) => l.includes('TypeError'));
    expect(line).toBeDefined();
    expect(line).not.toContain('\n');
  });

  it('answers 503 with Retry-After and without internals, and never 429 (the service sheds no load)', async () => {
    const store = await fetch(`${url}/store`);
    expect(store.status).toBe(503);
    expect(store.headers.get('retry-after')).toBe('5');
    const body = (await store.json()) as { error: string; message: string };
    expect(body.error).toBe('unavailable');
    expect(body.message).not.toContain('db.internal');
    expect(logLines.some((l) => l.includes('db.internal'))).toBe(true);
    // rate_limited is the helper's word for a proxy's 429, not a code the service answers with.
    const limited = await fetch(`${url}/limited`);
    expect(limited.status).toBe(500);
    expect(((await limited.json()) as { error: string }).error).toBe('internal');
  });

  it('counts failures by route and reason', () => {
    const text = metrics.render();
    expect(text).toMatch(/dstack_registry_auth_failures_total\{reason="internal",route="boom"\} 1/);
    expect(text).toMatch(/dstack_registry_auth_failures_total\{reason="unavailable",route="store"\} 1/);
  });
});
