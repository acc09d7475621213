import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

// Every regular file under `dir` with its bytes as latin1 text (a secret is found in binary
// files too), for the tests that search a host's or an engine's files for a secret.
export async function filesUnder(dir: string): Promise<[string, string][]> {
  const found: [string, string][] = [];
  for (const entry of await readdir(dir, { recursive: true }).catch(() => [] as string[])) {
    const path = join(dir, entry);
    const info = await lstat(path).catch(() => undefined);
    if (info?.isFile()) found.push([path, (await readFile(path).catch(() => Buffer.alloc(0))).toString('latin1')]);
  }
  return found;
}
