import { readTomlTables } from '../formats/toml-read.ts';
import type { TomlTable } from '../formats/toml-lite.ts';
import { outsideBlock, setBlock } from '../formats/managed-block.ts';
import { mirrorLocation } from '../../../registry/mirror-url.ts';
import { CodedError } from '../../../common/errors.ts';

// The drop-in podman, buildah, skopeo and CRI-O read after /etc/containers/registries.conf
// (containers-registries.conf.d(5)); later files win, so the name sorts late.
export const REGISTRIES_DROP_IN_NAME = '90-docker-credential-dstack.conf';

// A containers-registries.conf v2 drop-in: a [[registry]] for docker.io with one
// [[registry.mirror]] per mirror (location without scheme; `insecure = true` for http://).
// Local-name mode adds a [[registry]] for the loopback name with `insecure = true`: podman
// (4.3 and 5.8 measured) refuses a plain-http registry without it ("server gave HTTP response
// to HTTPS client"). Only documented keys are written. A [[registry]] for docker.io (or for
// the local name) already in this file outside our block is refused: two tables with one
// prefix would make the engines reject the file.
export function addRegistriesMirrors(
  before: string | undefined,
  mirrors: string[],
  label: string,
  localName?: string,
): string {
  const text = before ?? '';
  readTomlTables(text, label);
  const theirs = readTomlTables(outsideBlock(text), label);
  if (mirrors.length > 0 && theirs.some(isDockerHubRegistry)) {
    throw new CodedError(
      'config_conflict',
      `${label} already has a [[registry]] for docker.io; add the mirror there by hand or move that entry, nothing was changed`,
    );
  }
  if (localName && theirs.some((t) => registryPrefix(t) === localName)) {
    throw new CodedError(
      'config_conflict',
      `${label} already has a [[registry]] for ${localName}; set insecure = true there by hand or move that entry, nothing was changed`,
    );
  }
  const lines: string[] = [];
  if (mirrors.length > 0) lines.push('[[registry]]', 'prefix = "docker.io"', 'location = "docker.io"', '');
  for (const mirror of mirrors) {
    lines.push('[[registry.mirror]]', `location = "${tomlSafe(mirrorLocation(mirror))}"`);
    if (mirror.startsWith('http://')) lines.push('insecure = true');
    lines.push('');
  }
  if (localName) lines.push('[[registry]]', `location = "${tomlSafe(localName)}"`, 'insecure = true', '');
  const next = setBlock(text, lines.join('\n').replace(/\n+$/, '\n'));
  readTomlTables(next, label);
  return next;
}

function isDockerHubRegistry(table: TomlTable): boolean {
  const prefix = registryPrefix(table);
  return prefix !== undefined && /^(docker\.io|index\.docker\.io|registry-1\.docker\.io)$/.test(prefix);
}

// The name a [[registry]] table applies to: its prefix, else its location.
export function registryPrefix(table: TomlTable): string | undefined {
  if (table.path.join('.') !== 'registry' || !table.arrayItem) return undefined;
  const prefix = table.values.get('prefix') ?? table.values.get('location');
  return typeof prefix === 'string' ? prefix : undefined;
}

function tomlSafe(value: string): string {
  if (/["\\\n]/.test(value))
    throw new CodedError('mirror_invalid', `mirror location ${JSON.stringify(value)} cannot be written to TOML`);
  return value;
}
