import type { AuditEvent } from '../core/ports.ts';
import { createAuditLog } from '../observability/audit-log.ts';

// The operator commands (issue-token, revoke) record what they did in the service's audit log
// file when one is configured; without a file they stay quiet (stdout is the token itself).
export function recordInAuditFile(path: string | undefined, at: Date, event: AuditEvent): void {
  if (!path) return;
  const audit = createAuditLog({ path, clock: () => at });
  try {
    audit.record(event);
  } finally {
    audit.close();
  }
}
