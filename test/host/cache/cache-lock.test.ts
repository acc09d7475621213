import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock, processIsAlive, staleReason } from '../../../src/host/cache/cache-lock.ts';

let dir: string;
let lock: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dcd-lock-'));
  lock = join(dir, 'k.lock');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('acquireLock', () => {
  it('creates the lock file 0600 with pid and time, and release removes it', async () => {
    const result = await acquireLock(lock, { waitMs: 100, staleMs: 1000, now: () => 1234 });
    expect(result.status).toBe('acquired');
    expect(await readFile(lock, 'utf8')).toBe(`${process.pid} 1234\n`);
    expect((await stat(lock)).mode & 0o777).toBe(0o600);
    if (result.status === 'acquired') result.release();
    await expect(stat(lock)).rejects.toThrow(/ENOENT/);
  });

  it('a directory where no lock file can be made: unavailable with the cause, without waiting, not thrown', async () => {
    const nowhere = join(dir, 'missing', 'k.lock');
    let waited = 0;
    const result = await acquireLock(nowhere, {
      waitMs: 5000,
      staleMs: 1000,
      satisfied: () => {
        waited++;
        return false;
      },
    });
    expect(result).toEqual({ status: 'unavailable', reason: `cannot create lock ${nowhere} (ENOENT)` });
    expect(waited).toBe(0);
  });

  it('a second taker waits, then gets it once the first releases', async () => {
    const first = await acquireLock(lock, { waitMs: 100, staleMs: 5000 });
    if (first.status !== 'acquired') throw new Error('the first taker must get the lock');
    let waited = 0;
    // The first releases while the second is waiting: the event, not a delay, orders them.
    const second = await acquireLock(lock, {
      waitMs: 60_000,
      staleMs: 60_000,
      pollMs: 5,
      satisfied: () => {
        if (++waited === 2) first.release();
        return false;
      },
    });
    expect(second.status).toBe('acquired');
    expect(waited).toBe(2);
  });

  it('waiting is bounded: a live, young lock times out when its clock says the wait is over', async () => {
    await writeFile(lock, `${process.pid} 1000\n`);
    let clock = 1000;
    let polls = 0;
    const result = await acquireLock(lock, {
      waitMs: 120,
      staleMs: 60_000,
      pollMs: 1,
      now: () => clock,
      satisfied: () => {
        clock += 50;
        polls++;
        return false;
      },
    });
    expect(result.status).toBe('timed_out');
    expect(polls).toBe(3);
  });

  it('a waiter stops as soon as the result it waits for is there', async () => {
    await writeFile(lock, `${process.pid} ${Date.now()}\n`);
    let polls = 0;
    const result = await acquireLock(lock, { waitMs: 5000, staleMs: 60_000, pollMs: 5, satisfied: () => ++polls >= 3 });
    expect(result.status).toBe('satisfied');
  });

  it('breaks a lock whose holder process is gone', async () => {
    await writeFile(lock, `999999999 ${Date.now()}\n`);
    const reasons: string[] = [];
    const result = await acquireLock(lock, {
      waitMs: 1000,
      staleMs: 60_000,
      onStale: (reason) => reasons.push(reason),
    });
    expect(result.status).toBe('acquired');
    expect(reasons).toEqual([`lock ${lock} was held by process 999999999, which is gone`]);
    expect(await readFile(lock, 'utf8')).toMatch(new RegExp(`^${process.pid} `));
  });

  it('breaks a lock older than staleMs even if its holder lives', async () => {
    await writeFile(lock, `${process.pid} 1000\n`);
    const reasons: string[] = [];
    const result = await acquireLock(lock, {
      waitMs: 1000,
      staleMs: 5000,
      now: () => 7000,
      onStale: (reason) => reasons.push(reason),
    });
    expect(result.status).toBe('acquired');
    expect(reasons[0]).toMatch(/older than 5000 ms/);
  });

  it('breaks a directory planted as the lock, contents and all, and takes the lock', async () => {
    await mkdir(join(lock, 'inside'), { recursive: true });
    const reasons: string[] = [];
    const result = await acquireLock(lock, {
      waitMs: 60_000,
      staleMs: 60_000,
      onStale: (reason) => reasons.push(reason),
    });
    expect(result.status).toBe('acquired');
    expect(reasons).toEqual([`lock ${lock} is a directory, not a lock file`]);
    expect(await readFile(lock, 'utf8')).toMatch(new RegExp(`^${process.pid} `));
    expect(await readdir(dir)).toEqual(['k.lock']);
  });

  it('release leaves a lock that is no longer ours alone', async () => {
    const result = await acquireLock(lock, { waitMs: 100, staleMs: 1000 });
    await writeFile(lock, `1 ${Date.now()}\n`); // someone broke ours and took it
    if (result.status === 'acquired') result.release();
    expect(await readFile(lock, 'utf8')).toMatch(/^1 /);
  });
});

describe('staleReason', () => {
  it('an unreadable (empty) lock counts as live until it is older than staleMs', async () => {
    await writeFile(lock, '');
    expect(staleReason(lock, Date.now(), { staleMs: 5000 })).toBeUndefined();
    const old = new Date(Date.now() - 10_000);
    await utimes(lock, old, old);
    expect(staleReason(lock, Date.now(), { staleMs: 5000 })?.reason).toMatch(/unreadable/);
  });

  it('a live holder inside staleMs is not stale; a missing file is not stale', async () => {
    await writeFile(lock, `${process.pid} ${Date.now()}\n`);
    expect(staleReason(lock, Date.now(), { staleMs: 5000 })).toBeUndefined();
    expect(staleReason(join(dir, 'none.lock'), Date.now(), { staleMs: 5000 })).toBeUndefined();
  });

  it.each([
    ['a directory', (path: string) => mkdir(path), 'is a directory, not a lock file'],
    ['a FIFO', (path: string) => execFileSync('mkfifo', [path]), 'is a FIFO, not a lock file'],
    [
      'a dangling symbolic link',
      (path: string) => symlink('/nonexistent/lock', path),
      'is a symbolic link, not a lock file',
    ],
    [
      'a symbolic link to a live lock',
      async (path: string) => {
        await writeFile(`${path}.real`, `${process.pid} ${Date.now()}\n`);
        await symlink(`${path}.real`, path);
      },
      'is a symbolic link, not a lock file',
    ],
    [
      'an oversized file',
      (path: string) => writeFile(path, `${process.pid} ${Date.now()}\n${'x'.repeat(100)}`),
      'is larger than 64 bytes, not a lock file',
    ],
  ])('%s is stale at once, whoever is alive', async (_, plant, why) => {
    await plant(lock);
    expect(staleReason(lock, Date.now(), { staleMs: 60_000, isAlive: () => true })?.reason).toBe(`lock ${lock} ${why}`);
  });

  it('a live holder with a time in the future is stale', async () => {
    await writeFile(lock, `${process.pid} 5000\n`);
    expect(staleReason(lock, 4999, { staleMs: 60_000 })?.reason).toBe(
      `lock ${lock} names a time in the future (1970-01-01T00:00:05.000Z); the clock was set back or the file is not a lock`,
    );
    expect(staleReason(lock, 5000, { staleMs: 60_000 })).toBeUndefined();
  });

  it('processIsAlive knows this process and rejects nonsense pids', () => {
    expect(processIsAlive(process.pid)).toBe(true);
    expect(processIsAlive(0)).toBe(false);
    expect(processIsAlive(999999999)).toBe(false);
  });
});
