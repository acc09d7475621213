import type { RevocationStore } from '../core/ports.ts';

// A revocation of instance X at time R cuts off every token of X issued at or before R; a
// token minted after the revocation works (the way to re-admit an instance).
export async function isRevoked(store: RevocationStore, instance: string, issuedAt: Date): Promise<boolean> {
  const revokedAt = await store.revokedAt(instance);
  return revokedAt !== undefined && issuedAt.getTime() <= revokedAt.getTime();
}
