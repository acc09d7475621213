import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FakeHost } from './setup-fixture.ts';

// A dockerd whose reload does not take: a process named dockerd (off PATH) that ignores
// SIGHUP, a pidfile naming it, and a `docker` CLI on `bin` whose `docker info` always shows
// `mirrors`. configure/unconfigure signal it and then read docker info, as on a real host.
export interface StubbornDockerd {
  pid: number;
  pidfile: string;
  // PATH with the stub docker first.
  path: string;
  // The fake host's path arguments, reloading this dockerd instead of none.
  args: string[];
  stop(): void;
}

export async function startStubbornDockerd(host: FakeHost, mirrors: string[]): Promise<StubbornDockerd> {
  const bin = join(host.root, 'bin');
  await mkdir(bin, { recursive: true });
  const info = {
    ServerVersion: '20.10.24',
    Driver: 'overlay2',
    DriverStatus: [],
    RegistryConfig: { Mirrors: mirrors },
  };
  await writeFile(join(bin, 'docker'), `#!/bin/sh\necho '${JSON.stringify(info)}'\n`, { mode: 0o755 });
  await mkdir(join(host.root, 'engine'), { recursive: true });
  const script = join(host.root, 'engine', 'dockerd');
  // It says "ready" once its SIGHUP trap is in place: callers wait for that, not for a delay.
  await writeFile(script, '#!/bin/sh\ntrap "" HUP\necho ready\nwhile :; do sleep 1; done\n', { mode: 0o755 });
  const engine: ChildProcess = spawn(script, [], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    engine.stdout!.once('data', () => resolve());
    engine.once('exit', () => reject(new Error('the stand-in dockerd exited before it was ready')));
  });
  const pidfile = join(host.root, 'dockerd.pid');
  await writeFile(pidfile, `${engine.pid}\n`);
  return {
    pid: engine.pid!,
    pidfile,
    path: `${bin}:/usr/bin:/bin`,
    args: host.pathArgs.filter((a) => a !== '--no-reload').map((a) => (a.endsWith('no-dockerd.pid') ? pidfile : a)),
    stop: () => {
      if (engine.exitCode === null && engine.signalCode === null) engine.kill('SIGKILL');
    },
  };
}
