import { parseJsonObject, formatJsonLike, type JsonObject } from './json-document.ts';
import { sameMirror } from '../../registry/mirror-url.ts';
import { CodedError } from '../../common/errors.ts';

export interface MirrorsOwnership {
  added: string[];
  createdKey: boolean;
}

export interface MirrorsEdit {
  text: string;
  owned: MirrorsOwnership;
}

// Adds mirrors to daemon.json `registry-mirrors` after any already there (dockerd tries them in
// order), keeping every other key: runtimes, exec-opts, log options are not ours to touch.
export function addRegistryMirrors(before: string | undefined, mirrors: string[], label: string): MirrorsEdit {
  const doc = parseJsonObject(before, label);
  const existing = readMirrors(doc, label);
  const owned: MirrorsOwnership = { added: [], createdKey: existing === undefined };
  const list = [...(existing ?? [])];
  for (const mirror of mirrors) {
    if (list.some((m) => sameMirror(m, mirror))) continue;
    list.push(mirror);
    owned.added.push(mirror);
  }
  if (owned.added.length === 0) return { text: before ?? '', owned };
  const next: JsonObject = { ...doc, 'registry-mirrors': list };
  return { text: formatJsonLike(before, next, '  '), owned };
}

// Removes the mirrors configure added, and the key itself when configure created it and it is empty.
export function removeRegistryMirrors(current: string, owned: MirrorsOwnership, label: string): string {
  const doc = parseJsonObject(current, label);
  const existing = readMirrors(doc, label);
  if (existing === undefined) return current;
  const list = existing.filter((m) => !owned.added.some((ours) => sameMirror(ours, m)));
  if (list.length === existing.length) return current;
  const next: JsonObject = { ...doc, 'registry-mirrors': list };
  if (owned.createdKey && list.length === 0) delete next['registry-mirrors'];
  return formatJsonLike(current, next, '  ');
}

export function readMirrors(doc: JsonObject, label: string): string[] | undefined {
  const value = doc['registry-mirrors'];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((m) => typeof m !== 'string')) {
    throw new CodedError('config_invalid', `${label}: "registry-mirrors" is not a list of URLs; fix it by hand, nothing was changed`);
  }
  return value as string[];
}
