import { spawn } from 'node:child_process';

// Processes the harness started, stopped when the test process exits for any reason: an exit
// hook for normal and failed runs, plus a detached watcher that outlives a killed worker.
const tracked = new Map<number, string>();
// tracked PID → PID of its watcher, killed when the process is stopped normally.
const watchers = new Map<number, number | undefined>();
let hooked = false;

export function trackProcess(pid: number, name: string): void {
  tracked.set(pid, name);
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const pid of tracked.keys()) signal(pid, 'SIGTERM');
    });
  }
  // The watcher polls our PID; when we are gone it sends SIGTERM, then SIGKILL after 10 s.
  const script =
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
    `kill -TERM ${pid} 2>/dev/null || exit 0; sleep 10; kill -KILL ${pid} 2>/dev/null; exit 0`;
  const watcher = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  watcher.unref();
  watchers.set(pid, watcher.pid);
}

export function untrackProcess(pid: number): void {
  tracked.delete(pid);
  const watcher = watchers.get(pid);
  watchers.delete(pid);
  if (watcher !== undefined) signal(watcher, 'SIGKILL');
}

export function signal(pid: number, name: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

export function isRunning(pid: number): boolean {
  return signal(pid, 0);
}

// SIGTERM, wait up to graceMs for the process to go, then SIGKILL.
export async function stopProcess(pid: number, graceMs = 10_000): Promise<void> {
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isRunning(pid) && Date.now() < deadline) await sleep(50);
  if (isRunning(pid)) {
    signal(pid, 'SIGKILL');
    while (isRunning(pid)) await sleep(20);
  }
  untrackProcess(pid);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
