// Log assertions that fail with a short message instead of dumping a whole registry log.
export function lineMatching(log: string, pattern: RegExp): string | undefined {
  return log.split('\n').find((line) => pattern.test(line));
}

export function countLines(log: string, pattern: RegExp): number {
  return log.split('\n').filter((line) => pattern.test(line)).length;
}

// An access-log line of distribution for this method/path/status ("GET /v2/… HTTP/1.1" 200).
export function accessLine(method: string, path: string, status: number): RegExp {
  const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`"(?:${method}) ${escaped} HTTP/1\\.1" ${status} `);
}

// A mark in a growing log: the function returned gives only what was written after it.
export async function markLog(read: () => Promise<string>): Promise<() => Promise<string>> {
  const at = (await read()).length;
  return async () => (await read()).slice(at);
}
