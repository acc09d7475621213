import {
  readRootObject,
  readContainer,
  findMember,
  kindAt,
  decodeString,
  type Container,
  type Item,
} from '../formats/json-text.ts';
import {
  documentStyle,
  newDocument,
  appendItems,
  removeItems,
  formatContainer,
  memberText,
  itemIndent,
  isMultiline,
} from '../formats/json-splice.ts';
import type { JsonObject } from '../formats/json-document.ts';
import { sameMirror } from '../../../registry/mirror-url.ts';
import { CodedError } from '../../../common/errors.ts';

const KEY = 'registry-mirrors';

export interface MirrorsOwnership {
  added: string[];
  createdKey: boolean;
}

export interface MirrorsEdit {
  text: string;
  owned: MirrorsOwnership;
}

// Adds mirrors to daemon.json `registry-mirrors` after any already there (dockerd tries them in
// order). Only that member's text changes: runtimes, exec-opts, log options, numbers beyond
// double precision, duplicate keys elsewhere, a BOM and CRLF line endings stay byte for byte.
export function addRegistryMirrors(before: string | undefined, mirrors: string[], label: string): MirrorsEdit {
  const root = readRootObject(before, label);
  const style = documentStyle(before, root, '  ');
  const list = root ? mirrorList(before!, root, label) : undefined;
  const owned: MirrorsOwnership = { added: [], createdKey: list === undefined };
  const present = [...(list?.values ?? [])];
  for (const mirror of mirrors) {
    if (present.some((m) => sameMirror(m, mirror))) continue;
    present.push(mirror);
    owned.added.push(mirror);
  }
  if (owned.added.length === 0) return { text: before ?? '', owned };
  const quoted = owned.added.map((m) => JSON.stringify(m));
  if (!root)
    return {
      text: newDocument(before, [memberText(KEY, formatContainer('[]', quoted, style.unit, true, style))], style),
      owned,
    };
  if (list) return { text: appendItems(before!, list.container, quoted, style), owned };
  const value = formatContainer(
    '[]',
    quoted,
    itemIndent(before!, root, style),
    isMultiline(before!, root, style),
    style,
  );
  return { text: appendItems(before!, root, [memberText(KEY, value)], style), owned };
}

// Removes the mirrors configure added, and the key itself when configure created it and it is
// empty: unless `keepKey`, which leaves `"registry-mirrors": []` for a dockerd reload (a
// reload leaves mirrors alone when the key is absent).
export function removeRegistryMirrors(
  current: string,
  owned: MirrorsOwnership,
  label: string,
  keepKey = false,
): string {
  const root = readRootObject(current, label);
  const list = root ? mirrorList(current, root, label) : undefined;
  if (!root || !list) return current;
  const ours = list.values.flatMap((m, i) => (owned.added.some((mine) => sameMirror(mine, m)) ? [i] : []));
  if (owned.createdKey && !keepKey && ours.length === list.values.length)
    return removeItems(current, root, [root.items.indexOf(list.member)]);
  return ours.length === 0 ? current : removeItems(current, list.container, ours);
}

// The text dockerd must read on a reload so that it drops our mirrors: ours removed, the key
// kept (added as an empty list when someone removed it). `createdKey` says whether it added it.
export function mirrorsClearedForReload(
  current: string,
  owned: MirrorsOwnership,
  label: string,
): { text: string; createdKey: boolean } {
  const root = readRootObject(current, label);
  if (root && mirrorList(current, root, label))
    return { text: removeRegistryMirrors(current, owned, label, true), createdKey: false };
  const style = documentStyle(current, root, '  ');
  if (!root) return { text: newDocument(current, [memberText(KEY, '[]')], style), createdKey: true };
  return { text: appendItems(current, root, [memberText(KEY, '[]')], style), createdKey: true };
}

// The mirrors a parsed daemon.json lists (for checks that only read it).
export function readMirrors(doc: JsonObject, label: string): string[] | undefined {
  const value = doc[KEY];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((m) => typeof m !== 'string')) throw notAList(label);
  return value as string[];
}

function mirrorList(
  text: string,
  root: Container,
  label: string,
): { member: Item; container: Container; values: string[] } | undefined {
  const member = findMember(root, KEY, label);
  if (!member) return undefined;
  if (kindAt(text, member.value) !== 'array') throw notAList(label);
  const container = readContainer(text, member.value.start);
  if (container.items.some((item) => kindAt(text, item.value) !== 'string')) throw notAList(label);
  return { member, container, values: container.items.map((item) => decodeString(text, item.value)) };
}

function notAList(label: string): CodedError {
  return new CodedError(
    'config_invalid',
    `${label}: "${KEY}" is not a list of URLs; fix it by hand, nothing was changed`,
  );
}
