import { readToml, type TomlTable } from './toml-lite.ts';
import { outsideBlock, setBlock } from './managed-block.ts';
import { mirrorLocation } from '../../registry/mirror-url.ts';
import { CodedError } from '../../common/errors.ts';

// The drop-in podman, buildah, skopeo and CRI-O read after /etc/containers/registries.conf
// (containers-registries.conf.d(5)); later files win, so the name sorts late.
export const REGISTRIES_DROP_IN_NAME = '90-docker-credential-dstack.conf';

// A containers-registries.conf v2 drop-in: a [[registry]] for docker.io with one
// [[registry.mirror]] per mirror (location without scheme; `insecure = true` for http://).
// Only documented keys are written. A [[registry]] for docker.io already in this file outside
// our block is refused: two tables with one prefix would make the engines reject the file.
export function addRegistriesMirrors(before: string | undefined, mirrors: string[], label: string): string {
  const text = before ?? '';
  readToml(text, label);
  const theirs = readToml(outsideBlock(text), label);
  if (theirs.some(isDockerHubRegistry)) {
    throw new CodedError('config_conflict', `${label} already has a [[registry]] for docker.io; add the mirror there by hand or move that entry, nothing was changed`);
  }
  const lines = ['[[registry]]', 'prefix = "docker.io"', 'location = "docker.io"', ''];
  for (const mirror of mirrors) {
    lines.push('[[registry.mirror]]', `location = "${tomlSafe(mirrorLocation(mirror))}"`);
    if (mirror.startsWith('http://')) lines.push('insecure = true');
    lines.push('');
  }
  const next = setBlock(text, lines.join('\n').replace(/\n+$/, '\n'));
  readToml(next, label);
  return next;
}

function isDockerHubRegistry(table: TomlTable): boolean {
  if (table.path.join('.') !== 'registry' || !table.arrayItem) return false;
  const prefix = table.values.get('prefix') ?? table.values.get('location');
  return typeof prefix === 'string' && /^(docker\.io|index\.docker\.io|registry-1\.docker\.io)$/.test(prefix);
}

function tomlSafe(value: string): string {
  if (/["\\\n]/.test(value)) throw new CodedError('mirror_invalid', `mirror location ${JSON.stringify(value)} cannot be written to TOML`);
  return value;
}
