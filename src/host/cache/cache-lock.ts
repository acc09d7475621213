import { closeSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';

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
export type LockResult = { status: 'acquired'; release: () => void } | { status: 'satisfied' } | { status: 'timed_out' } | { status: 'unavailable'; reason: string };

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
      if (breakLock(path, stale.content)) options.onStale?.(stale.reason);
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
    if (readContent(path) === content) unlinkQuietly(path);
  };
}

interface StaleLock {
  reason: string;
  content: string | undefined;
}

// Exported for tests: why a lock file counts as abandoned, or undefined while it is live.
export function staleReason(path: string, at: number, options: Pick<LockOptions, 'staleMs' | 'isAlive'>): StaleLock | undefined {
  const content = readContent(path);
  if (content === undefined) return undefined; // gone: the next attempt may take it
  const match = /^(\d+) (\d+)\n$/.exec(content);
  if (!match) {
    // Written by O_EXCL open + write, so an empty file is a holder between the two steps:
    // judge it by age only.
    const mtime = mtimeOf(path);
    if (mtime !== undefined && at - mtime > options.staleMs) return { reason: `lock ${path} is unreadable and older than ${options.staleMs} ms`, content };
    return undefined;
  }
  const pid = Number(match[1]);
  const createdAt = Number(match[2]);
  const isAlive = options.isAlive ?? processIsAlive;
  if (!isAlive(pid)) return { reason: `lock ${path} was held by process ${pid}, which is gone`, content };
  if (at - createdAt > options.staleMs) return { reason: `lock ${path} held by process ${pid} is older than ${options.staleMs} ms`, content };
  return undefined;
}

// Moves the stale lock aside atomically, so two waiters cannot both delete it and one of
// them a fresh lock. If what was moved is not what was judged stale, it is put back.
function breakLock(path: string, judged: string | undefined): boolean {
  const aside = `${path}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    renameSync(path, aside);
  } catch {
    return false;
  }
  const moved = readContent(aside);
  if (moved !== judged) {
    try {
      linkSync(aside, path);
    } catch {
      // Someone took the lock meanwhile; theirs wins.
    }
    unlinkQuietly(aside);
    return false;
  }
  unlinkQuietly(aside);
  return true;
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

function readContent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function mtimeOf(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
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
