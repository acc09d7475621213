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
  splice,
} from '../formats/json-splice.ts';
import { CodedError } from '../../../common/errors.ts';

// The name Docker clients turn into the program `docker-credential-<name>`.
export const HELPER_NAME = 'dstack';
const SECTION = 'credHelpers';

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

// Names the helper in `credHelpers` for each key. Only the text of those entries changes: every
// other byte of the file (`auths`, other helpers, its layout) stays. An entry naming another
// helper is replaced only with force; a credsStore is left alone but reported.
export function addCredHelpers(
  before: string | undefined,
  keys: string[],
  options: { force: boolean; label: string },
): CredHelpersEdit {
  const { label } = options;
  const root = readRootObject(before, label);
  const text = before ?? '';
  const helpers = root ? helpersSection(text, root, label) : undefined;
  const owned: CredHelpersOwnership = { added: [], replaced: {}, createdSection: helpers === undefined };
  const warnings: string[] = [];
  const skipped: string[] = [];
  const credsStore = root && findMember(root, 'credsStore', label);
  if (credsStore && kindAt(text, credsStore.value) === 'string' && decodeString(text, credsStore.value) !== '') {
    warnings.push(
      `${label}: credsStore "${decodeString(text, credsStore.value)}" stays for other registries; credHelpers take precedence for ${keys.join(', ')}`,
    );
  }
  const replace: Item[] = [];
  const append: string[] = [];
  for (const key of keys) {
    const entry = helpers && findMember(helpers.container, key, label);
    const current = entry ? valueText(text, entry) : undefined;
    if (current === HELPER_NAME) continue;
    if (entry) {
      if (!options.force) {
        warnings.push(
          `${label}: credHelpers["${key}"] is "${current}"; left as it is (rerun with --force to replace it with "${HELPER_NAME}")`,
        );
        skipped.push(key);
        continue;
      }
      warnings.push(`${label}: credHelpers["${key}"] was "${current}"; replaced with "${HELPER_NAME}" (--force)`);
      owned.replaced[key] = current!;
      replace.push(entry);
    } else if (!append.includes(key)) append.push(key);
    owned.added.push(key);
  }
  if (owned.added.length === 0) return { text, owned, warnings, skipped };
  const style = documentStyle(before, root, '\t');
  const entries = append.map((key) => memberText(key, JSON.stringify(HELPER_NAME)));
  let next: string;
  if (!root)
    next = newDocument(before, [memberText(SECTION, formatContainer('{}', entries, style.unit, true, style))], style);
  else if (!helpers)
    next = appendItems(
      text,
      root,
      [
        memberText(
          SECTION,
          formatContainer('{}', entries, itemIndent(text, root, style), isMultiline(text, root, style), style),
        ),
      ],
      style,
    );
  else next = appendItems(text, helpers.container, entries, style);
  // Appended text lies after every entry replaced, so their places still hold.
  for (const entry of [...replace].sort((a, b) => b.value.start - a.value.start))
    next = splice(next, entry.value, JSON.stringify(HELPER_NAME));
  return { text: next, owned, warnings, skipped };
}

// Removes the entries configure added (restoring a replaced helper name), and the credHelpers
// section when configure created it and nothing else is in it now. Entries changed since are kept.
export function removeCredHelpers(current: string, owned: CredHelpersOwnership, label: string): string {
  const root = readRootObject(current, label);
  const helpers = root ? helpersSection(current, root, label, false) : undefined;
  if (!root || !helpers) return current;
  const ours = helpers.container.items.filter(
    (item) => owned.added.includes(item.key!) && valueText(current, item) === HELPER_NAME,
  );
  if (ours.length === 0) return current;
  const restored = ours.filter((item) => owned.replaced[item.key!] !== undefined);
  const removed = ours.filter((item) => owned.replaced[item.key!] === undefined);
  if (owned.createdSection && restored.length === 0 && removed.length === helpers.container.items.length) {
    return removeItems(current, root, [root.items.indexOf(helpers.member)]);
  }
  let next = current;
  for (const item of [...restored].sort((a, b) => b.value.start - a.value.start))
    next = splice(next, item.value, JSON.stringify(owned.replaced[item.key!]));
  const container = readContainer(next, helpers.container.start);
  return removeItems(
    next,
    container,
    container.items.flatMap((item, i) => (removed.some((r) => r.key === item.key) ? [i] : [])),
  );
}

// The credHelpers object; one that is not an object is refused (when we would edit it) or
// left alone (when there is nothing of ours to take out of it).
function helpersSection(
  text: string,
  root: Container,
  label: string,
  strict = true,
): { member: Item; container: Container } | undefined {
  const member = findMember(root, SECTION, label);
  if (!member) return undefined;
  if (kindAt(text, member.value) !== 'object') {
    if (!strict) return undefined;
    throw new CodedError(
      'config_invalid',
      `${label}: "credHelpers" is not an object; fix it by hand, nothing was changed`,
    );
  }
  return { member, container: readContainer(text, member.value.start) };
}

function valueText(text: string, item: Item): string {
  return kindAt(text, item.value) === 'string'
    ? decodeString(text, item.value)
    : text.slice(item.value.start, item.value.end);
}
