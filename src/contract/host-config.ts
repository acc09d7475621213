import { isLibraryMode, type LibraryMode } from './library-mode.ts';

// GET /v1/host-config (docs/contract.md): what `configure` writes on a runner host, as the
// service writes it and the helper reads it. Plain data.

// Where the host-local mirror endpoint forwards Docker Hub pulls; `registry` is the key the
// endpoint asks its credential for.
export interface HostConfigUpstream {
  url: string;
  registry: string;
  library: LibraryMode;
  // Token realm hosts the upstream's credential may go to besides its own host.
  realms?: string[];
}

// The mirror endpoint's block: the fleet default (`enabled`) and its upstreams.
export interface HostConfigEndpoint {
  enabled: boolean;
  upstreams: HostConfigUpstream[];
}

export interface HostConfigAnswer {
  // Engine registry-mirrors (URLs with a scheme).
  mirrors: string[];
  // The registry keys to name the helper for.
  registries: string[];
  endpoint: HostConfigEndpoint;
}

// Why a parse failed, for the caller's "sent an invalid answer: …" message.
export type ParsedHostConfig = { ok: true; answer: HostConfigAnswer } | { ok: false; why: string };

// Reads a 200 body. A service that sends no `endpoint` has the endpoint disabled with no
// upstreams; an upstream without `library` keeps `library/`.
export function parseHostConfigAnswer(value: unknown): ParsedHostConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, why: 'the answer is not a JSON object' };
  const record = value as Record<string, unknown>;
  if (!isStringArray(record.mirrors) || !isStringArray(record.registries))
    return { ok: false, why: 'host-config needs "mirrors" and "registries" lists of strings' };
  const endpoint = parseEndpoint(record.endpoint);
  if (typeof endpoint === 'string') return { ok: false, why: `host-config "endpoint": ${endpoint}` };
  return { ok: true, answer: { mirrors: record.mirrors, registries: record.registries, endpoint } };
}

// The endpoint block, or why it breaks the contract.
function parseEndpoint(value: unknown): HostConfigEndpoint | string {
  if (value === undefined || value === null) return { enabled: false, upstreams: [] };
  if (typeof value !== 'object' || Array.isArray(value)) return 'not an object';
  const record = value as Record<string, unknown>;
  if (record.enabled !== undefined && typeof record.enabled !== 'boolean') return '"enabled" is not a boolean';
  const list = record.upstreams ?? [];
  if (!Array.isArray(list)) return '"upstreams" is not a list';
  const upstreams: HostConfigUpstream[] = [];
  for (const item of list as unknown[]) {
    const entry = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const library = entry.library ?? 'keep';
    if (typeof entry.url !== 'string' || typeof entry.registry !== 'string')
      return 'an upstream lacks "url" or "registry"';
    if (!isLibraryMode(library)) return `an upstream's "library" is not keep, strip or both`;
    const realms = entry.realms ?? [];
    if (!isStringArray(realms)) return `an upstream's "realms" is not a list of strings`;
    upstreams.push({ url: entry.url, registry: entry.registry, library, ...(realms.length > 0 ? { realms } : {}) });
  }
  return { enabled: record.enabled === true, upstreams };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
