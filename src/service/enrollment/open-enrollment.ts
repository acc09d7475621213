import type { Route } from '../http/service-deps.ts';
import { loadEnrollmentConfig } from './enrollment-config.ts';
import { openEnrollmentLedger } from './enrollment-ledger.ts';
import { createEnrollmentRoute } from './enrollment-route.ts';

// Enrollment as build-service mounts it: the route (404 while enrollment is off) and the
// ledger it writes, opened only when an enrollment config is set.
export async function openEnrollment(env: Record<string, string | undefined>, dataDir: string): Promise<{ route: Route; close(): void }> {
  const config = await loadEnrollmentConfig(env);
  const ledger = config ? await openEnrollmentLedger(dataDir) : undefined;
  return { route: createEnrollmentRoute({ config, ledger }), close: () => ledger?.close() };
}
