import { readToml, type TomlTable } from '../formats/toml-lite.ts';
import { BLOCK_BEGIN, BLOCK_END, findBlock, outsideBlock, removeBlock, setBlock } from '../formats/managed-block.ts';
import { CodedError } from '../../../common/errors.ts';
import type { ContainerdVersion } from '../engines/containerd-version.ts';

export type ConfigVersion = 2 | 3;

// Where containerd's CRI reads `config_path` (the hosts directory, certs.d): a version 2 config
// names the CRI plugin; version 3 (containerd 2.x) moved image settings to their own plugin and
// ignores the old table, which containerd 2.x migrates only when the file says `version = 2`.
export const CRI_REGISTRY_TABLE: Record<ConfigVersion, string[]> = {
  2: ['plugins', 'io.containerd.grpc.v1.cri', 'registry'],
  3: ['plugins', 'io.containerd.cri.v1.images', 'registry'],
};

export interface CriRegistry {
  // undefined: no file, or one with nothing in it (containerd's defaults apply).
  version: ConfigVersion | undefined;
  // The value as written: undefined when the key is absent, '' when set empty.
  configPath: string | undefined;
  // Deprecated registry.mirrors entries or configs.<host>.tls: containerd refuses to start when
  // config_path is set next to them, and uses them instead of certs.d while it is empty.
  legacyMirrors: boolean;
  // disabled_plugins names CRI (Docker's containerd.io package ships such a file, without a
  // `version` line): nothing pulls through CRI, so there is nothing to point at certs.d.
  criDisabled?: boolean;
  // A version 3 file that sets the version 2 key, which containerd then ignores.
  ignoredV2Key?: boolean;
  // Outside our block: what the operator's own text says, for the edit.
  registryTable?: TomlTable;
}

// containerd's config.toml as far as CRI's hosts directory goes. Refuses, in one line, a file
// whose CRI keys this tool does not write: version 1 (no `version` line), a version it does not
// know, or the registry set with dotted keys or an inline table.
export function readCriRegistry(before: string | undefined, label: string): CriRegistry {
  const text = before ?? '';
  readToml(text, label);
  const tables = readToml(outsideBlock(text), label);
  const ours = findBlock(text) ? readToml(text, label) : tables;
  const root = ours[0]!;
  const empty = tables.length === 1 && tables[0]!.values.size === 0 && root.values.size === 0;
  const version = root.values.get('version');
  if (empty && version === undefined) return { version: undefined, configPath: undefined, legacyMirrors: false };
  const disabled = root.values.get('disabled_plugins');
  if (Array.isArray(disabled) && disabled.some((p) => p === 'cri' || p === 'io.containerd.grpc.v1.cri')) {
    return {
      version: version === 2 || version === 3 ? version : undefined,
      configPath: undefined,
      legacyMirrors: false,
      criDisabled: true,
    };
  }
  if (version === undefined) {
    throw new CodedError(
      'config_unsupported',
      `${label} has no \`version\` line, so containerd reads it as a version 1 config, whose keys this tool does not write; set config_path under its [plugins.cri.registry] by hand (or migrate it: containerd config migrate), nothing was changed`,
    );
  }
  if (version !== 2 && version !== 3) {
    throw new CodedError(
      'config_unsupported',
      `${label} says version = ${JSON.stringify(version)}, which this tool does not know (it writes versions 2 and 3); set CRI's registry config_path by hand, nothing was changed`,
    );
  }
  const path = CRI_REGISTRY_TABLE[version];
  const key = path.join('.');
  for (const table of ours) {
    for (const name of table.values.keys()) {
      const full = [...table.path, name].join('.');
      if (table.path.length < path.length && (full === key || full.startsWith(`${key}.`))) {
        throw new CodedError(
          'config_unsupported',
          `${label} sets [${key}] with dotted keys or an inline table, which this tool does not edit; set config_path there by hand, nothing was changed`,
        );
      }
    }
  }
  const registry = ours.find((t) => samePath(t.path, path));
  const configPath = registry?.values.get('config_path');
  if (configPath !== undefined && typeof configPath !== 'string') {
    throw new CodedError(
      'config_invalid',
      `${label}: [${key}] config_path is not a string; fix it by hand, nothing was changed`,
    );
  }
  const ignoredV2Key =
    version === 3 && ours.some((t) => samePath(t.path, CRI_REGISTRY_TABLE[2]) && t.values.has('config_path'));
  return {
    version,
    configPath,
    legacyMirrors: hasLegacyMirrors(ours, path),
    ignoredV2Key,
    registryTable: tables.find((t) => samePath(t.path, path)),
  };
}

function hasLegacyMirrors(tables: TomlTable[], path: string[]): boolean {
  return tables.some((t) => {
    if (!startsWith(t.path, path)) return false;
    const rest = t.path.slice(path.length);
    if (rest.length === 0)
      return [...t.values.keys()].some(
        (k) =>
          k.startsWith('mirrors.') ||
          (k === 'mirrors' && Object.keys(t.values.get(k) as object).length > 0) ||
          /^configs\..*\.tls(\.|$)/.test(k),
      );
    if (rest[0] === 'mirrors') return rest.length > 1 || t.values.size > 0;
    return (
      rest[0] === 'configs' &&
      (rest[2] === 'tls' || [...t.values.keys()].some((k) => k === 'tls' || k.startsWith('tls.')))
    );
  });
}

// Sets CRI's config_path to `dir` in our marked block, so that unconfigure takes out exactly
// that: a new (or empty) file gets `version = N` and the table; a file without the table gets
// it appended; a table without the key gets the key right under its header; a key set empty
// is replaced in place and its line (with its line ending) is returned, for unconfigure to put back.
export function setCriConfigPath(
  before: string | undefined,
  dir: string,
  newVersion: ConfigVersion,
  label: string,
): { text: string; replacedLine?: string } {
  const text = before ?? '';
  const cri = readCriRegistry(text, label);
  const version = cri.version ?? newVersion;
  const header = `[${CRI_REGISTRY_TABLE[version].map(quoteKey).join('.')}]`;
  const line = (indent: string) => `${indent}config_path = ${quoteValue(dir)}`;
  const block = findBlock(text);
  let next: string;
  let replacedLine: string | undefined;
  if (cri.version === undefined) next = setBlock(text, `version = ${version}\n\n${header}\n${line('  ')}\n`);
  else if (block) {
    // A later configure with another directory: only the key's line in our block changes.
    const body = block.body.replace(/^([ \t]*)config_path[ \t]*=.*$/m, (_, indent: string) => line(indent));
    next = text.slice(0, block.start) + wrap(body) + text.slice(block.end);
  } else if (!cri.registryTable) next = setBlock(text, `${header}\n${line('  ')}\n`);
  else {
    const span = cri.registryTable.spans.get('config_path');
    if (span) {
      // With its own line ending (CRLF, or none at the end of the file), so it goes back exactly.
      replacedLine = text.slice(span.start, span.end);
      next =
        text.slice(0, span.start) +
        wrap(`# replaces: ${replacedLine.trim()}\n${line(indentOf(replacedLine))}\n`) +
        text.slice(span.end);
    } else {
      const at = cri.registryTable.header!.end;
      const headerLine = text.slice(cri.registryTable.header!.start, at);
      next =
        text.slice(0, at) +
        (headerLine.endsWith('\n') ? '' : '\n') +
        wrap(`${line(`${indentOf(headerLine)}  `)}\n`) +
        text.slice(at);
    }
  }
  const check = readCriRegistry(next, label);
  if (check.configPath !== dir)
    throw new CodedError(
      'config_unsupported',
      `${label}: could not set CRI's config_path safely; set it by hand, nothing was changed`,
    );
  return replacedLine === undefined ? { text: next } : { text: next, replacedLine };
}

// Takes our block out: the line it replaced goes back where it was; an appended block goes
// with the blank line setBlock put before it.
export function removeCriConfigPath(text: string, replacedLine: string | undefined): string {
  const block = findBlock(text);
  if (!block) return text;
  if (replacedLine !== undefined) return text.slice(0, block.start) + replacedLine + text.slice(block.end);
  const lineStart = text.lastIndexOf('\n', block.start - 1) + 1;
  const appended = text.slice(block.end).trim() === '';
  return appended ? removeBlock(text) : text.slice(0, lineStart) + text.slice(block.end);
}

function wrap(body: string): string {
  return `${BLOCK_BEGIN}\n${body}${BLOCK_END}\n`;
}

function indentOf(line: string): string {
  return /^[ \t]*/.exec(line)![0];
}

function samePath(a: string[], b: string[]): boolean {
  return a.length === b.length && startsWith(a, b);
}

function startsWith(a: string[], prefix: string[]): boolean {
  return prefix.every((part, i) => a[i] === part);
}

function quoteKey(part: string): string {
  return /^[A-Za-z0-9_-]+$/.test(part) ? part : `"${part}"`;
}

function quoteValue(value: string): string {
  if (/["\\\n\r]/.test(value))
    throw new CodedError('config_invalid', `directory ${JSON.stringify(value)} cannot be written to TOML`);
  return `"${value}"`;
}

// The directories CRI reads hosts.toml files from, in order (config_path is a list, like PATH):
// with config_path empty or absent, none before containerd 2.2; 2.2 defaults an absent key to
// /etc/containerd/certs.d:/etc/docker/certs.d, and 2.3 (the default moved to the plugin's
// start) an empty one too, unless deprecated mirrors are set. An unknown containerd version
// counts as an old one: the check then asks for the key rather than trust a default.
export const CRI_DEFAULT_HOSTS_DIRS = ['/etc/containerd/certs.d', '/etc/docker/certs.d'];

export function criHostsDirs(cri: CriRegistry, containerd: ContainerdVersion | undefined): string[] {
  if (cri.configPath) return cri.configPath.split(':').filter((d) => d !== '');
  if (cri.legacyMirrors || !containerd) return [];
  const at = (major: number, minor: number) =>
    containerd.major > major || (containerd.major === major && containerd.minor >= minor);
  if (cri.configPath === undefined ? at(2, 2) : at(2, 3)) return [...CRI_DEFAULT_HOSTS_DIRS];
  return [];
}
