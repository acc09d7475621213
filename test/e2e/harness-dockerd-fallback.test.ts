import { describe, expect, it } from 'vitest';
import { CLASSIC_STORE_FALLBACK, CONTAINERD_STORE_FALLBACK, DOCKERD_FALLBACK } from './harness/dockerd-fallback.ts';

// The fallback lines as dockerd wrote them (issue 16): each store's own, and none of the
// lines a pull that stays on the mirror writes.
describe("harness: dockerd's fallback line, both image stores", () => {
  const classic =
    'time="2026-11-30T10:00:00Z" level=info msg="Attempting next endpoint for pull after error: manifest unknown: manifest unknown"';
  const containerd28 =
    'time="2026-11-30T10:00:00Z" level=info msg="trying next host after status: 404 Not Found" host=registry-1.docker.io';
  const containerd26 =
    'time="2026-11-30T10:00:00Z" level=info msg="trying next host - response was http.StatusNotFound" host=registry-1.docker.io';
  const unreachable =
    'time="2026-11-30T10:00:00Z" level=info msg="trying next host" error="failed to do request: dial tcp 127.0.0.1:8484: connect: connection refused" host="127.0.0.1:8484"';
  const served = 'time="2026-11-30T10:00:00Z" level=debug msg="resolving" host="127.0.0.1:8484"';

  it('matches each store its own line, and DOCKERD_FALLBACK all of them', () => {
    expect(CLASSIC_STORE_FALLBACK.test(classic)).toBe(true);
    for (const line of [containerd28, containerd26, unreachable]) {
      expect(CONTAINERD_STORE_FALLBACK.test(line), line).toBe(true);
      expect(CLASSIC_STORE_FALLBACK.test(line), line).toBe(false);
    }
    for (const line of [classic, containerd28, containerd26, unreachable])
      expect(DOCKERD_FALLBACK.test(line), line).toBe(true);
    expect(DOCKERD_FALLBACK.test(served)).toBe(false);
  });
});
