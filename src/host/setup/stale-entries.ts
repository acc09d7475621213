import { removeCredHelpers } from './engine-files/docker-client-config.ts';
import { removeRegistryMirrors } from './engine-files/daemon-json.ts';
import { sameMirror } from '../../registry/mirror-url.ts';
import type { FileRecord } from './journal/setup-state.ts';

export interface StaleEdit {
  text: string | undefined;
  removed: string[];
}

// credHelpers entries an earlier configure added that this run no longer wants (the Docker Hub
// key once the mirror endpoint is used): taken out, a name --force replaced put back.
export function withoutStaleHelpers(
  text: string | undefined,
  record: FileRecord | undefined,
  keys: string[],
  label: string,
): StaleEdit {
  if (text === undefined || record?.ownership.kind !== 'docker-config') return { text, removed: [] };
  const owned = record.ownership.credHelpers;
  const stale = owned.added.filter((key) => !keys.includes(key));
  if (stale.length === 0) return { text, removed: [] };
  const next = removeCredHelpers(text, { added: stale, replaced: owned.replaced, createdSection: false }, label);
  return { text: next, removed: next === text ? [] : stale };
}

// Mirrors an earlier configure added to daemon.json that this run no longer wants (the mirror
// itself once the engines use the endpoint, or the endpoint once they no longer do).
export function withoutStaleMirrors(
  text: string | undefined,
  record: FileRecord | undefined,
  mirrors: string[],
  label: string,
): StaleEdit {
  if (text === undefined || record?.ownership.kind !== 'daemon-json') return { text, removed: [] };
  const stale = record.ownership.mirrors.added.filter((ours) => !mirrors.some((m) => sameMirror(m, ours)));
  if (stale.length === 0) return { text, removed: [] };
  const next = removeRegistryMirrors(text, { added: stale, createdKey: false }, label);
  return { text: next, removed: next === text ? [] : stale };
}
