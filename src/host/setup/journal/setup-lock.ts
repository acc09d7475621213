import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { write } from '../../../common/command-context.ts';
import { atomicWrite, tempFilesLeftBy } from '../../../common/atomic-write.ts';
import { CodedError } from '../../../common/errors.ts';
import { makeDirectory } from '../../../common/make-directory.ts';
import { readRegularFile } from '../../../common/read-regular-file.ts';
import { isRunning, processIdentity, type ProcessIdentity } from './setup-journal.ts';

export const LOCK_FILE = 'setup.lock';
// Held for the few microseconds of a takeover, so two runs cannot both replace one stale lock.
const BREAK_FILE = 'setup.lock.break';
const POLL_MS = 100;

// Who holds the lock: the writer's identity (pid and start time, so a reused pid is not taken
// for it), the command, and since when (for the person reading the message).
interface LockHolder {
  version: 1;
  command: string;
  writer: ProcessIdentity;
  since: string;
}

export function setupLockPath(stateDir: string): string {
  return join(stateDir, LOCK_FILE);
}

export interface SetupLockOptions {
  command: 'configure' | 'unconfigure';
  waitMs: number;
  stderr: Writable;
}

// One configure or unconfigure at a time per state directory: two started at the same moment
// would each read the state, plan, and write over the other's files and state (the journal
// covers only a run killed mid-write). Node has no flock, so the lock is a file in the state
// directory, made whole (atomicWrite exclusive: a temp file, then link(2), which fails when
// the lock exists), holding the writer's pid and start time. A second run waits up to
// `waitMs`, saying once whom it waits for, then fails in one line naming the holder. A lock
// whose writer is gone (killed, crashed) is taken over with a warning: under the break file,
// re-checked, then replaced by rename(2). Returns the release, which removes the lock (only
// while it is ours) and the state directory when nothing else is left in it.
export async function takeSetupLock(stateDir: string, options: SetupLockOptions): Promise<() => Promise<void>> {
  const path = setupLockPath(stateDir);
  const me = (await processIdentity()) ?? { pid: process.pid, started: '' };
  const content = `${JSON.stringify({ version: 1, command: options.command, writer: me, since: new Date().toISOString() } satisfies LockHolder)}\n`;
  const deadline = Date.now() + options.waitMs;
  let announced = false;
  for (;;) {
    if (await tryLink(stateDir, path, content)) return acquired(stateDir, path, content);
    const holder = readHolder(path);
    if (holder === 'gone') continue; // released meanwhile: try again at once
    if (!(await writerRunning(holder.writer))) {
      if (await takeOver(stateDir, path, content, holder)) {
        await write(
          options.stderr,
          `warning: took over the setup lock ${path} from ${holder.command} (pid ${holder.writer.pid}, since ${holder.since}), which is no longer running\n`,
        );
        return acquired(stateDir, path, content);
      }
    } else if (Date.now() >= deadline) {
      const waited = options.waitMs > 0 ? `; waited ${formatWait(options.waitMs)}` : '';
      throw new CodedError(
        'setup_busy',
        `another ${holder.command} (pid ${holder.writer.pid}) has held the setup lock ${path} since ${holder.since}${waited}: let it finish (or stop it), then run ${options.command} again; --lock-wait sets how long to wait`,
      );
    } else if (!announced) {
      announced = true;
      await write(
        options.stderr,
        `waiting for ${holder.command} (pid ${holder.writer.pid}) to finish: it holds the setup lock ${path} (up to ${formatWait(options.waitMs)}, --lock-wait)\n`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.min(POLL_MS, deadline - Date.now()))));
  }
}

function formatWait(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}

// true: the lock is ours. false: someone holds it. The state directory is made first; a
// release elsewhere may remove it between the two steps, so ENOENT is tried again.
async function tryLink(stateDir: string, path: string, content: string): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      await makeDirectory(stateDir, 0o700, 0o755);
      return await atomicWrite(path, content, { mode: 0o600, exclusive: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && attempt < 5) continue;
      throw new CodedError(
        'state_unwritable',
        `cannot create the setup lock ${path} (${code ?? 'error'}); run as root, or point --state-dir at a writable directory`,
      );
    }
  }
}

// What a run killed inside the few steps above leaves: temp files of a dead writer, a break
// file whose writer is gone. Swept by whoever holds the lock, so the state directory can go.
async function sweepLeftovers(stateDir: string): Promise<void> {
  for (const file of [LOCK_FILE, BREAK_FILE]) {
    for (const temp of await tempFilesLeftBy(join(stateDir, file))) {
      if (temp.pid !== process.pid && !(await writerRunning({ pid: temp.pid, started: '' })))
        await rm(temp.path, { force: true });
    }
  }
  const breakPath = join(stateDir, BREAK_FILE);
  const breaker = readHolderQuietly(breakPath);
  if (breaker !== undefined && !(await writerRunning(breaker.writer))) await rm(breakPath, { force: true });
}

function readHolderQuietly(path: string): LockHolder | undefined {
  try {
    const holder = readHolder(path);
    return holder === 'gone' ? undefined : holder;
  } catch {
    return undefined;
  }
}

function readHolder(path: string): LockHolder | 'gone' {
  const read = readRegularFile(path, { maxBytes: 4096 });
  if (read.kind === 'missing') return 'gone';
  const notOurs = (why: string) =>
    new CodedError(
      'state_invalid',
      `${path} ${why}, not a setup lock this version wrote; remove it if no configure or unconfigure is running, then run the command again`,
    );
  if (read.kind !== 'file')
    throw notOurs(
      read.kind === 'not_regular'
        ? `is ${read.what}`
        : read.kind === 'too_large'
          ? 'is too large'
          : `cannot be read (${read.code})`,
    );
  try {
    const holder = JSON.parse(read.text) as LockHolder;
    if (holder.version === 1 && typeof holder.writer?.pid === 'number' && typeof holder.writer.started === 'string')
      return holder;
  } catch {
    // reported below
  }
  throw notOurs('holds something else');
}

// By pid and start time; without /proc (no start time was recorded) by the pid alone.
async function writerRunning(writer: ProcessIdentity): Promise<boolean> {
  if (writer.started !== '') return isRunning(writer);
  try {
    process.kill(writer.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Replaces a stale lock with ours, under the break file; false when another run got there
// first (the caller looks again). A break file whose writer died in those microseconds is
// removed: the one race left is two runs removing it at once after such a death.
async function takeOver(stateDir: string, path: string, content: string, stale: LockHolder): Promise<boolean> {
  const breakPath = join(stateDir, BREAK_FILE);
  if (!(await tryLink(stateDir, breakPath, content))) {
    const breaker = readHolder(breakPath);
    if (breaker !== 'gone' && !(await writerRunning(breaker.writer))) await rm(breakPath, { force: true });
    return false;
  }
  try {
    const now = readHolder(path);
    if (now === 'gone' || JSON.stringify(now) !== JSON.stringify(stale)) return false;
    await atomicWrite(path, content, { mode: 0o600 });
    return true;
  } finally {
    await rm(breakPath, { force: true });
  }
}

async function acquired(stateDir: string, path: string, content: string): Promise<() => Promise<void>> {
  await sweepLeftovers(stateDir);
  return () => releaseLock(stateDir, path, content);
}

async function releaseLock(stateDir: string, path: string, content: string): Promise<void> {
  const read = readRegularFile(path, { maxBytes: 4096 });
  if (read.kind === 'file' && read.text === content) await rm(path, { force: true });
  // The state directory goes with the last thing in it (unconfigure's last step left the lock).
  const left = await readdir(stateDir).catch(() => undefined);
  if (left?.length === 0) await rmdir(stateDir).catch(() => {});
}
