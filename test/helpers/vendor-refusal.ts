import { expect } from 'vitest';
import type { TestService } from './service-harness.ts';

// A cloud source's refusal as the service answers a host (docs/cloud-registries.md): 503, one
// line of at most 200 characters (what the host prints) that starts with the registry and
// source and matches `line`, Retry-After exactly when the failure is worth retrying soon, and
// the vendor call counted with its outcome.
export function expectVendorRefusalAnswer(
  svc: TestService,
  answer: { status: number; headers: Headers; json: any },
  expected: { registry: string; source: string; line: RegExp; retry: boolean; outcome: string },
): void {
  const { registry, source } = expected;
  expect(answer.status).toBe(503);
  expect(answer.json.message).toMatch(
    new RegExp(`^registry ${registry.replace(/\./g, '\\.')} \\(source ${source}\\): `),
  );
  expect(answer.json.message).toMatch(expected.line);
  expect(answer.json.message.length).toBeLessThanOrEqual(200);
  expect(answer.headers.get('retry-after') !== null).toBe(expected.retry);
  expect(
    svc.metric(
      'dstack_registry_auth_cloud_token_requests_total',
      `outcome="${expected.outcome}",registry="${registry}",source="${source}"`,
    ),
  ).toBeGreaterThanOrEqual(1);
}
