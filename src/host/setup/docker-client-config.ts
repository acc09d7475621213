import { parseJsonObject, formatJsonLike, type JsonObject } from './json-document.ts';
import { CodedError } from '../../common/errors.ts';

// The name Docker clients turn into the program `docker-credential-<name>`.
export const HELPER_NAME = 'dstack';

// What configure changed in a client config.json, so that unconfigure can undo exactly that.
export interface CredHelpersOwnership {
  added: string[];
  replaced: Record<string, string>;
  createdSection: boolean;
}

export interface CredHelpersEdit {
  text: string;
  owned: CredHelpersOwnership;
  warnings: string[];
  skipped: string[];
}

// Names the helper in `credHelpers` for each key, keeping every other key and entry. An entry
// naming another helper is replaced only with force; a credsStore is left alone but reported.
export function addCredHelpers(before: string | undefined, keys: string[], options: { force: boolean; label: string }): CredHelpersEdit {
  const doc = parseJsonObject(before, options.label);
  const existing = doc.credHelpers;
  if (existing !== undefined && (typeof existing !== 'object' || existing === null || Array.isArray(existing))) {
    throw new CodedError('config_invalid', `${options.label}: "credHelpers" is not an object; fix it by hand, nothing was changed`);
  }
  const helpers: Record<string, unknown> = { ...(existing as Record<string, unknown> | undefined) };
  const owned: CredHelpersOwnership = { added: [], replaced: {}, createdSection: existing === undefined };
  const warnings: string[] = [];
  const skipped: string[] = [];
  if (typeof doc.credsStore === 'string' && doc.credsStore !== '') {
    warnings.push(`${options.label}: credsStore "${doc.credsStore}" stays for other registries; credHelpers take precedence for ${keys.join(', ')}`);
  }
  for (const key of keys) {
    const current = helpers[key];
    if (current === HELPER_NAME) continue;
    if (current !== undefined) {
      if (!options.force) {
        warnings.push(`${options.label}: credHelpers["${key}"] is "${String(current)}"; left as it is (rerun with --force to replace it with "${HELPER_NAME}")`);
        skipped.push(key);
        continue;
      }
      warnings.push(`${options.label}: credHelpers["${key}"] was "${String(current)}"; replaced with "${HELPER_NAME}" (--force)`);
      owned.replaced[key] = String(current);
    }
    helpers[key] = HELPER_NAME;
    owned.added.push(key);
  }
  if (owned.added.length === 0) return { text: before ?? '', owned, warnings, skipped };
  const next: JsonObject = { ...doc, credHelpers: helpers };
  return { text: formatJsonLike(before, next, '\t'), owned, warnings, skipped };
}

// Removes the entries configure added (restoring a replaced helper name), and the credHelpers
// section when configure created it and nothing else is in it now. Entries changed since are kept.
export function removeCredHelpers(current: string, owned: CredHelpersOwnership, label: string): string {
  const doc = parseJsonObject(current, label);
  const helpers = doc.credHelpers;
  if (typeof helpers !== 'object' || helpers === null || Array.isArray(helpers)) return current;
  const next: Record<string, unknown> = { ...(helpers as Record<string, unknown>) };
  let changed = false;
  for (const key of owned.added) {
    if (next[key] !== HELPER_NAME) continue;
    const previous = owned.replaced[key];
    if (previous !== undefined) next[key] = previous;
    else delete next[key];
    changed = true;
  }
  if (!changed) return current;
  const result: JsonObject = { ...doc, credHelpers: next };
  if (owned.createdSection && Object.keys(next).length === 0) delete result.credHelpers;
  return formatJsonLike(current, result, '\t');
}
