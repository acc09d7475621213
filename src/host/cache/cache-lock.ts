import { closeSync, linkSync, lstatSync, openSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { readRegularFile } from '../../common/read-regular-file.ts';

export interface LockOptions {
  // How long to wait for another holder before giving up on the lock.
  waitMs: number;
  // A lock older than this is abandoned, whoever holds it (no fetch takes longer).
  staleMs: number;
  pollMs?: number;
  // Checked while waiting: true when the holder's result is already there (the fresh cache
  // entry), so the waiter can stop waiting without taking the lock at all.
  satisfied?: () => boolean;
  now?: () => number;
  isAlive?: (pid: number) => boolean;
  onStale?: (reason: string) => void;
}

// unavailable: the lock file cannot be created at all (a read-only or full cache directory);
// the cache is best-effort, so the caller goes on without single flight.
export type LockResult =
  | { status: 'acquired'; release: () => void }
  | { status: 'satisfied' }
  | { status: 'timed_out' }
  | { status: 'unavailable'; reason: string };

// A cross-process single-flight lock: a file created with O_EXCL holding "<pid> <ms>".
// A lock whose holder is dead, or that is older than staleMs, is broken, so a crashed
// helper never blocks the next pull for longer than that.
export async function acquireLock(path: string, options: LockOptions): Promise<LockResult> {
  const now = options.now ?? Date.now;
  const pollMs = options.pollMs ?? 15;
  const deadline = now() + options.waitMs;
  for (;;) {
    const created = tryCreate(path, now());
    if (typeof created === 'string') return { status: 'unavailable', reason: created };
    if (created) return { status: 'acquired', release: created };
    if (options.satisfied?.()) return { status: 'satisfied' };
    const stale = staleReason(path, now(), options);
    if (stale) {
      if (breakLock(path, stale.identity)) options.onStale?.(stale.reason);
      continue;
    }
    if (now() >= deadline) return { status: 'timed_out' };
    await sleep(Math.min(pollMs, Math.max(1, deadline - now())));
  }
}

// The release function, undefined while someone else holds the lock, or why no lock file
// can be made here.
function tryCreate(path: string, at: number): (() => void) | string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'EEXIST' ? undefined : `cannot create lock ${path} (${code ?? 'error'})`;
  }
  const content = `${process.pid} ${at}\n`;
  try {
    writeSync(fd, content);
  } catch (error) {
    // A full disk: an empty lock would stall the others until it is judged stale.
    closeSync(fd);
    unlinkQuietly(path);
    return `cannot write lock ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  closeSync(fd);
  return () => {
    // Remove the lock only while it is still ours: a waiter may have judged it stale.
    const lock = readLock(path);
    if (lock?.kind === 'file' && lock.content === content) unlinkQuietly(path);
  };
}

interface StaleLock {
  reason: string;
  // What was judged stale (inode and content), so that breaking it never removes another lock.
  identity: string;
}

// "<pid> <ms>\n" is about 25 bytes; anything much larger is not a lock of ours.
const MAX_LOCK_BYTES = 64;

// What is at the lock path: a lock file's content, something that cannot be a lock (a
// directory, a FIFO, a link, an oversized file: read without ever blocking), or nothing.
type LockFile =
  | { kind: 'file'; content: string; identity: string; mtimeMs: number }
  | { kind: 'foreign'; what: string; identity: string }
  | undefined;

function readLock(path: string): LockFile {
  let inode: number;
  try {
    inode = lstatSync(path).ino;
  } catch {
    return undefined;
  }
  const read = readRegularFile(path, { maxBytes: MAX_LOCK_BYTES });
  switch (read.kind) {
    case 'file':
      return {
        kind: 'file',
        content: read.text,
        identity: `${read.stats.ino} ${read.text}`,
        mtimeMs: read.stats.mtimeMs,
      };
    case 'missing':
      return undefined;
    case 'not_regular':
      return { kind: 'foreign', what: `is ${read.what}`, identity: `${inode} ${read.what}` };
    case 'too_large':
      return { kind: 'foreign', what: `is larger than ${MAX_LOCK_BYTES} bytes`, identity: `${inode} large` };
    case 'unreadable':
      return { kind: 'foreign', what: `cannot be read (${read.code})`, identity: `${inode} ${read.code}` };
  }
}

// Exported for tests: why a lock file counts as abandoned, or undefined while it is live.
// Whatever is not a regular lock file can never be released by a holder, and a time in the
// future (a clock stepped back, a hand-made file) would never grow old: both are stale at once.
export function staleReason(
  path: string,
  at: number,
  options: Pick<LockOptions, 'staleMs' | 'isAlive'>,
): StaleLock | undefined {
  const lock = readLock(path);
  if (lock === undefined) return undefined; // gone: the next attempt may take it
  if (lock.kind === 'foreign') return { reason: `lock ${path} ${lock.what}, not a lock file`, identity: lock.identity };
  const match = /^(\d+) (\d+)\n$/.exec(lock.content);
  if (!match) {
    // Written by O_EXCL open + write, so an empty file is a holder between the two steps:
    // judge it by age only.
    if (at - lock.mtimeMs > options.staleMs)
      return { reason: `lock ${path} is unreadable and older than ${options.staleMs} ms`, identity: lock.identity };
    return undefined;
  }
  const pid = Number(match[1]);
  const createdAt = Number(match[2]);
  const isAlive = options.isAlive ?? processIsAlive;
  if (createdAt > at)
    return {
      reason: `lock ${path} names a time in the future (${new Date(createdAt).toISOString()}); the clock was set back or the file is not a lock`,
      identity: lock.identity,
    };
  if (!isAlive(pid))
    return { reason: `lock ${path} was held by process ${pid}, which is gone`, identity: lock.identity };
  if (at - createdAt > options.staleMs)
    return {
      reason: `lock ${path} held by process ${pid} is older than ${options.staleMs} ms`,
      identity: lock.identity,
    };
  return undefined;
}

// Moves the stale lock aside atomically, so two waiters cannot both delete it and one of
// them a fresh lock. If what was moved is not what was judged stale, it is put back.
function breakLock(path: string, judged: string): boolean {
  const aside = `${path}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    renameSync(path, aside);
  } catch {
    return false;
  }
  if (readLock(aside)?.identity !== judged) {
    try {
      linkSync(aside, path);
    } catch {
      // Someone took the lock meanwhile; theirs wins.
    }
    removeAside(aside);
    return false;
  }
  removeAside(aside);
  return true;
}

// A directory planted as a lock goes too (only this user can write the cache directory).
function removeAside(aside: string): void {
  try {
    rmSync(aside, { recursive: true, force: true });
  } catch {
    // left for the next break
  }
}

export function processIsAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
