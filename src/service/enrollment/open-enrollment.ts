import type { Route } from '../http/service-deps.ts';
import { loadEnrollmentConfig } from './enrollment-config.ts';
import { openEnrollmentLedger } from './enrollment-ledger.ts';
import { createEnrollmentRoutes } from './enrollment-route.ts';

// Enrollment as build-service mounts it: the routes (404 while enrollment is off) and the
// ledger they write, opened only when an enrollment config is set.
export async function openEnrollment(
  env: Record<string, string | undefined>,
  service: { dataDir: string; publicUrl: string },
): Promise<{ enroll: Route; nonce: Route; close(): void }> {
  const config = await loadEnrollmentConfig(env);
  const ledger = config ? await openEnrollmentLedger(service.dataDir) : undefined;
  return { ...createEnrollmentRoutes(config, ledger, service.publicUrl), close: () => ledger?.close() };
}
