import { readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { atomicWrite } from '../../../common/atomic-write.ts';
import { makeDirectory } from '../../../common/make-directory.ts';
import { CodedError } from '../../../common/errors.ts';
import type { CredHelpersOwnership } from '../engine-files/docker-client-config.ts';
import type { MirrorsOwnership } from '../engine-files/daemon-json.ts';

export const DEFAULT_STATE_DIR = '/var/lib/docker-credential-dstack';
export const STATE_FILE = 'setup-state.json';

// What configure added to one file, in that file's terms.
export type Ownership =
  | { kind: 'docker-config'; credHelpers: CredHelpersOwnership }
  | { kind: 'daemon-json'; mirrors: MirrorsOwnership }
  | { kind: 'toml-block' }
  // containerd's config.toml: our block sets CRI's config_path; `replacedLine` is the operator's
  // own `config_path = ""` line (with its line ending) it took the place of, put back by unconfigure.
  | { kind: 'containerd-config'; replacedLine?: string };

// One file configure touched: enough to put it back byte for byte when nobody changed it since
// (sha256 of what we wrote, and the backup of what was there), and to remove only our entries otherwise.
export interface FileRecord {
  label: string;
  target: string;
  created: boolean;
  createdDirs: string[];
  beforeSha256?: string;
  afterSha256: string;
  backup?: string;
  backupCreated: boolean;
  ownership: Ownership;
}

export interface SetupState {
  version: 1;
  files: Record<string, FileRecord>;
}

export function stateDirOf(option: string | undefined, env: Record<string, string | undefined>): string {
  return option ?? env.DOCKER_CREDENTIAL_DSTACK_STATE_DIR ?? DEFAULT_STATE_DIR;
}

export async function loadSetupState(stateDir: string): Promise<SetupState> {
  const path = join(stateDir, STATE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, files: {} };
    throw new CodedError(
      'state_unreadable',
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}; run as root`,
    );
  }
  try {
    const state = JSON.parse(text) as SetupState;
    if (state.version !== 1 || typeof state.files !== 'object' || state.files === null)
      throw new Error('unknown layout');
    return state;
  } catch {
    throw new CodedError(
      'state_invalid',
      `${path} is not a setup state this version understands; move it away to start afresh`,
    );
  }
}

// Saved 0600 in a 0700 directory; removed when no file is owned any more.
export async function saveSetupState(stateDir: string, state: SetupState): Promise<void> {
  const path = join(stateDir, STATE_FILE);
  if (Object.keys(state.files).length === 0) {
    await rm(path, { force: true });
    await rmdir(stateDir).catch(() => {});
    return;
  }
  await makeDirectory(stateDir, 0o700, 0o755);
  await atomicWrite(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

// Of the bytes (a string counts as its UTF-8 encoding, which is what is written for it).
export function sha256(content: string | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

// A later configure adds to what an earlier one owns; the first one's "before" stays the original.
export function mergeOwnership(previous: Ownership | undefined, next: Ownership): Ownership {
  if (!previous || previous.kind !== next.kind) return next;
  if (previous.kind === 'docker-config' && next.kind === 'docker-config') {
    return {
      kind: 'docker-config',
      credHelpers: {
        added: union(previous.credHelpers.added, next.credHelpers.added),
        replaced: { ...next.credHelpers.replaced, ...previous.credHelpers.replaced },
        createdSection: previous.credHelpers.createdSection,
      },
    };
  }
  if (previous.kind === 'daemon-json' && next.kind === 'daemon-json') {
    return {
      kind: 'daemon-json',
      mirrors: { added: union(previous.mirrors.added, next.mirrors.added), createdKey: previous.mirrors.createdKey },
    };
  }
  // A later run edits inside our own block: the line the first run replaced is still the original.
  if (previous.kind === 'containerd-config') return previous;
  return next;
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}
