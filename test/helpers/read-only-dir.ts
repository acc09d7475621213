import { execFileSync } from 'node:child_process';
import { chmod } from 'node:fs/promises';

// Makes a directory unwritable for this process and returns the undo. Root ignores permission
// bits, so as root the directory is made immutable instead (chattr +i).
export async function makeReadOnly(dir: string): Promise<() => Promise<void>> {
  if (process.getuid?.() === 0) {
    execFileSync('chattr', ['+i', dir]);
    return async () => {
      execFileSync('chattr', ['-i', dir]);
    };
  }
  await chmod(dir, 0o555);
  return () => chmod(dir, 0o755);
}
