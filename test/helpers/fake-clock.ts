import { globSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

// The wall clock of a built binary, moved by the test instead of waited for: the binary runs
// with Debian's libfaketime preloaded, which reads the offset from a file at every call
// (FAKETIME_NO_CACHE), so a write here moves the clock of a running process at once. Only the
// wall clock moves: the monotonic clock stays real, so timers and timeouts keep their length.
export interface FakeClock {
  // The environment that puts a process on this clock (for its own env or a client's, whose
  // helper inherits it).
  env: Record<string, string>;
  // The clock `seconds` ahead of real time (behind when negative).
  set(seconds: number): Promise<void>;
}

export async function fakeClock(dir: string, name: string): Promise<FakeClock> {
  const library = globSync('/usr/lib/*/faketime/libfaketime.so.1')[0];
  if (library === undefined)
    throw new Error('libfaketime.so.1 is missing: install the faketime package (scripts/e2e/install-packages.sh)');
  const file = join(dir, `${name}.faketime`);
  const set = (seconds: number) => writeFile(file, `${seconds >= 0 ? '+' : ''}${Math.round(seconds)}\n`);
  await set(0);
  return {
    env: {
      LD_PRELOAD: library,
      FAKETIME_TIMESTAMP_FILE: file,
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    },
    set,
  };
}
