import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

// mkdir -p, one level at a time. Node's own `mkdir(path, { recursive: true })` loops forever
// (ignoring signals) where a parent cannot be created, e.g. under /proc; this creates each
// missing directory from the top down and throws the first error (ENOENT, EACCES, ENOTDIR).
export async function makeDirectory(path: string, mode = 0o700): Promise<void> {
  const missing: string[] = [];
  let current = resolve(path);
  for (;;) {
    const info = await stat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (info) {
      if (!info.isDirectory()) throw Object.assign(new Error(`${current} is not a directory`), { code: 'ENOTDIR', path: current });
      break;
    }
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const dir of missing.reverse()) {
    await mkdir(dir, { mode }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
}
