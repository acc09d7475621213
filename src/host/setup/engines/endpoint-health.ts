import { request } from 'node:http';

const HEALTH_TIMEOUT_MS = 2000;

// Whether the host-local mirror endpoint answers `GET /healthz` with 200. Under systemd socket
// activation this connection is what starts it, so a cold start is part of the wait.
export async function endpointHealth(
  endpoint: string,
  timeoutMs = HEALTH_TIMEOUT_MS,
): Promise<{ ok: true } | { ok: false; why: string }> {
  return new Promise((resolve) => {
    const req = request(new URL('/healthz', endpoint), { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      res.once('end', () =>
        resolve(
          res.statusCode === 200 ? { ok: true } : { ok: false, why: `it answers /healthz with HTTP ${res.statusCode}` },
        ),
      );
      res.once('error', () => resolve({ ok: false, why: 'the answer broke off' }));
    });
    req.once('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs / 1000} s`)));
    req.once('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, why: error.code ?? error.message }));
    req.end();
  });
}

export async function endpointAnswers(endpoint: string): Promise<boolean> {
  return (await endpointHealth(endpoint)).ok;
}
