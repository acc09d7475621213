import { existsSync, statSync } from 'node:fs';

// Which file a path names: device and inode, or undefined when nothing is there. A store file
// deleted or replaced (a backup restored with mv or rsync, both of which rename a new file into
// place) while a process has it open leaves that process reading the old file, and any other
// process that opens the path writing to the new one: their revocations would never meet.
export interface FileIdentity {
  dev: number;
  ino: number;
}

export function identityOf(path: string): FileIdentity | undefined {
  try {
    const stats = statSync(path);
    return { dev: stats.dev, ino: stats.ino };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export function sameFile(a: FileIdentity | undefined, b: FileIdentity | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

// As kept in the store itself (store_meta 'file'), so that a copy moved into place is told
// from the file that was created there.
export function identityText(identity: FileIdentity): string {
  return `${identity.dev}:${identity.ino}`;
}

// An open SQLite database in WAL mode has PATH-wal and PATH-shm beside it. They outlive a
// deleted PATH, and SQLite would pair them with a new file at PATH (SQLite's "How To Corrupt"
// page, 2.4): their presence with PATH gone means the store was deleted while open, or after a crash.
export function leftoverJournal(path: string): string | undefined {
  return [`${path}-wal`, `${path}-shm`].find((file) => existsSync(file));
}
