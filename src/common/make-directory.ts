import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

// mkdir -p, one level at a time. Node's own `mkdir(path, { recursive: true })` loops forever
// (ignoring signals) where a parent cannot be created, e.g. under /proc; this creates each
// missing directory from the top down and throws the first error (ENOENT, EACCES, ENOTDIR).
// Synchronous and built on node:fs alone, so the helper's cache can use it on its hot path.
// `parentMode` is for the levels above `path` (default: the same mode).
export function makeDirectorySync(path: string, mode = 0o700, parentMode = mode): void {
  const missing: string[] = [];
  let current = resolve(path);
  for (;;) {
    const info = statOrUndefined(current);
    if (info) {
      if (!info.isDirectory())
        throw Object.assign(new Error(`${current} is not a directory`), { code: 'ENOTDIR', path: current });
      break;
    }
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir, { mode: dir === missing[missing.length - 1] ? mode : parentMode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

export async function makeDirectory(path: string, mode = 0o700, parentMode = mode): Promise<void> {
  makeDirectorySync(path, mode, parentMode);
}

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
