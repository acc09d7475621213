import { link, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface AtomicWriteOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  // Create only: the file appears if the name is free (link, not rename), so two processes
  // creating it at once never overwrite each other's content. The loser gets false.
  exclusive?: boolean;
}

// Writes a file so that readers see either the old or the new content, never a torn one:
// a temp file in the same directory, fsync, rename over the target, fsync of the directory.
// Mode and owner are those given, or the existing file's, or 0644/current user. Returns
// whether this call's content is the one in place (always true unless `exclusive`).
export async function atomicWrite(
  path: string,
  content: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<boolean> {
  const dir = dirname(path);
  const existing = await stat(path).catch(() => undefined);
  const mode = options.mode ?? (existing ? existing.mode & 0o7777 : 0o644);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`); // see tempFilesLeftBy
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode);
    const uid = options.uid ?? existing?.uid;
    const gid = options.gid ?? existing?.gid;
    if (uid !== undefined && gid !== undefined && (uid !== process.getuid?.() || gid !== process.getgid?.())) {
      await handle.chown(uid, gid);
    }
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  let placed = true;
  try {
    if (options.exclusive) {
      placed = await link(temp, path).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          if (error.code === 'EEXIST') return false;
          throw error;
        },
      );
      await rm(temp, { force: true });
    } else {
      await rename(temp, path);
    }
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(dir);
  return placed;
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => {});
  await handle.close();
}

// The temp files a process killed inside atomicWrite(path) left next to `path` (pid given), or
// those of any process (pid undefined): named after the file and the writer's pid, so no other
// program's file matches.
export async function tempFilesLeftBy(path: string, pid?: number): Promise<Array<{ path: string; pid: number }>> {
  const name = basename(path).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^\\.${name}\\.(${pid ?? '\\d+'})\\.[0-9a-f]{8}\\.tmp$`);
  const entries = await readdir(dirname(path)).catch(() => [] as string[]);
  return entries.flatMap((entry) => {
    const match = pattern.exec(entry);
    return match ? [{ path: join(dirname(path), entry), pid: Number(match[1]) }] : [];
  });
}
