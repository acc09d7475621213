import { readTomlTables } from '../formats/toml-read.ts';
import { outsideBlock, setBlock, findBlock } from '../formats/managed-block.ts';
import { CodedError } from '../../../common/errors.ts';
import { DOCKER_HUB_KEY, registryApiHost } from '../../../registry/registry-key.ts';

// Docker Hub's API host: the upstream containerd falls back to after the mirrors.
const DOCKER_HUB_SERVER = `https://${registryApiHost(DOCKER_HUB_KEY)}`;

// containerd's hosts.toml for docker.io (certs.d/docker.io/hosts.toml): one [host."<mirror>"]
// table per mirror with pull and resolve capabilities; containerd tries hosts in file order and
// then `server`. A new file also names the server; an existing one keeps its own. Mirrors the
// file already lists outside our block are left as they are (a second table would be invalid).
export function addContainerdMirrors(before: string | undefined, mirrors: string[], label: string): string {
  const text = before ?? '';
  readTomlTables(text, label);
  const theirs = readTomlTables(outsideBlock(text), label);
  const listed = new Set(
    theirs.filter((t) => t.path.length === 2 && t.path[0] === 'host').map((t) => normalize(t.path[1]!)),
  );
  const wanted = mirrors.filter((m) => !listed.has(normalize(m)));
  const lines: string[] = [];
  const hasServer = theirs[0]?.values.has('server') ?? false;
  if (!hasServer && outsideBlock(text).trim() === '') lines.push(`server = "${DOCKER_HUB_SERVER}"`, '');
  for (const mirror of wanted) {
    lines.push(`[host.${quote(mirror)}]`, '  capabilities = ["pull", "resolve"]', '');
  }
  if (wanted.length === 0) return findBlock(text) ? setBlock(text, '') : text;
  const body = lines.join('\n').replace(/\n+$/, '\n');
  const next = setBlock(text, body);
  readTomlTables(next, label);
  return next;
}

function normalize(url: string): string {
  return url.trim().replace(/\/+$/, '').toLowerCase();
}

function quote(value: string): string {
  if (/["\\\n]/.test(value))
    throw new CodedError('mirror_invalid', `mirror URL ${JSON.stringify(value)} cannot be written to TOML`);
  return `"${value}"`;
}
