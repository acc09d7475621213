import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  AuditEvent,
  AuditLog,
  KeyRing,
  Metrics,
  RegistryEntry,
  RevocationStore,
} from '../../src/service/core/ports.ts';
import { loadKeyRing } from '../../src/service/token/key-ring.ts';
import { loadRegistrySigningKeys, type RegistryKeyRing } from '../../src/service/token/registry-signing-keys.ts';

// Small in-memory stand-ins for the service's stores, so realm tests see every decision.
export function memoryRevocations(): RevocationStore & { entries: Map<string, Date> } {
  const entries = new Map<string, Date>();
  return {
    entries,
    async revoke(instance, at) {
      entries.set(instance, at);
    },
    async revokedAt(instance) {
      return entries.get(instance);
    },
    async close() {},
  };
}

export function memoryAudit(): AuditLog & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return { events, record: (event) => void events.push(event) };
}

export function memoryMetrics(): Metrics & {
  counters: Map<string, number>;
  observations: { name: string; seconds: number }[];
} {
  const counters = new Map<string, number>();
  const observations: { name: string; seconds: number }[] = [];
  const key = (name: string, labels: Record<string, string> = {}) =>
    `${name}{${Object.entries(labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',')}}`;
  return {
    counters,
    observations,
    increment(name, labels, by = 1) {
      counters.set(key(name, labels), (counters.get(key(name, labels)) ?? 0) + by);
    },
    observe(name, seconds) {
      observations.push({ name, seconds });
    },
    render: () => [...counters].map(([k, v]) => `${k} ${v}`).join('\n'),
  };
}

export interface Keys {
  dataDir: string;
  ticketKeys: KeyRing;
  registryKeys: RegistryKeyRing;
  cleanup(): Promise<void>;
}

// Real key files in a fresh data dir, loaded the way `serve` loads them.
export async function makeKeys(issuerName = 'dstack-registry-auth'): Promise<Keys> {
  const dataDir = await mkdtemp(join(tmpdir(), 'issuer-keys-'));
  const ticketKeys = await loadKeyRing({ dataDir, name: 'ticket', alg: 'EdDSA' });
  const registryKeys = await loadRegistrySigningKeys({ dataDir, issuerName });
  return { dataDir, ticketKeys, registryKeys, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
}

export function issuerRegistry(
  overrides: Omit<Partial<RegistryEntry>, 'issuer'> & { issuer?: Partial<NonNullable<RegistryEntry['issuer']>> } = {},
): RegistryEntry {
  const { issuer, ...rest } = overrides;
  return {
    key: 'registry.example:5000',
    source: 'issuer',
    projects: ['*'],
    aliases: [],
    ...rest,
    issuer: {
      service: 'registry.example:5000',
      ticketTtlSeconds: 300,
      tokenTtlSeconds: 300,
      anonymousPull: false,
      repositories: {},
      ...issuer,
    },
  };
}
