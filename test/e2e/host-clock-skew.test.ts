import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureE2ePrerequisites } from '../helpers/ensure-packages.ts';
import { createHelperHost, type HelperHost } from './harness/helper-env.ts';
import { startService, type Service } from '../helpers/built-service.ts';
import { entryFileName } from '../../src/host/cache/entry-file-name.ts';

// Issue 18, item 4: the built helper runs under Debian's `faketime` (libfaketime through
// LD_PRELOAD, which the Node SEA binary honours) a day off, against the built service on real
// time. A credential's life on the host is counted on the service's clock (expires_at − its
// Date header), so the static password is cached for the service's 10 minutes, fresh for 5
// (docs/helper.md), not for half a day; a clock a day ahead does not throw every answer away.
const REGISTRY = 'docker.clock.example';
const PASSWORD = 'clock-skew-password-3c1e';
const TTL_MS = 600_000;
const DAY_S = 86_400;

describe('e2e: a host clock a day off the service', () => {
  let dir: string;
  let service: Service;

  beforeAll(async () => {
    ensureE2ePrerequisites();
    dir = await mkdtemp('/tmp/e2e-clock-');
    service = await startService({
      dir: join(dir, 'service'),
      env: {
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: REGISTRY,
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'clock-user',
        DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: PASSWORD,
        DSTACK_REGISTRY_AUTH_CREDENTIAL_TTL: '10m',
      },
    });
  });
  afterAll(async () => {
    await service?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function hostFor(instance: string): Promise<HelperHost> {
    return createHelperHost({
      dir: join(dir, instance),
      server: service.url,
      token: await service.issueToken({ instance }),
    });
  }

  // `get` with the host's clock `offsetS` seconds off real time (FAKETIME's "+/-N" offset).
  function getAt(host: HelperHost, offsetS: number) {
    return execa(
      'faketime',
      ['-f', `${offsetS >= 0 ? '+' : ''}${offsetS}`, join(host.binDir, 'docker-credential-dstack'), 'get'],
      { env: host.env, extendEnv: false, reject: false, input: `${REGISTRY}\n`, timeout: 30_000 },
    );
  }

  async function entryOf(host: HelperHost): Promise<{ issuedAt: number; expiresAt: number }> {
    const entry = JSON.parse(await readFile(join(host.cacheDir, entryFileName(REGISTRY)), 'utf8')) as {
      issuedAt: string;
      expiresAt: string;
    };
    return { issuedAt: Date.parse(entry.issuedAt), expiresAt: Date.parse(entry.expiresAt) };
  }

  it("a day behind: cached for the service's 10 minutes; the revocation shows 5 minutes after the fetch by the host's clock", async () => {
    const host = await hostFor('i-behind');
    const before = Date.now();
    const got = await getAt(host, -DAY_S);
    const after = Date.now();
    expect(got.exitCode, got.stderr).toBe(0);
    expect(JSON.parse(got.stdout).Secret).toBe(PASSWORD);

    const entry = await entryOf(host);
    // The binary really ran a day behind (libfaketime took hold of the SEA binary's clock).
    expect(entry.issuedAt).toBeGreaterThanOrEqual(before - DAY_S * 1000 - 1000);
    expect(entry.issuedAt).toBeLessThanOrEqual(after - DAY_S * 1000 + 1000);
    // The service's 10 minutes, in host-clock terms (whole seconds: Date has no milliseconds,
    // so a fetch that crosses a second boundary counts one second less, never more).
    expect(entry.expiresAt - entry.issuedAt).toBeGreaterThanOrEqual(TTL_MS - 1000);
    expect(entry.expiresAt - entry.issuedAt).toBeLessThanOrEqual(TTL_MS);
    expect(await host.debugLog()).toContain(
      `this host's clock is about 24 h behind the dstack server's (its Date header): credential lifetimes are counted on the server's clock; set this host's time (NTP)`,
    );

    await service.revoke('i-behind');
    // Inside the window, by the host's (fake) clock: the cache answers, the service is not asked.
    const cached = await getAt(host, -DAY_S + 285);
    expect(cached.exitCode, cached.stderr).toBe(0);
    expect(JSON.parse(cached.stdout).Secret).toBe(PASSWORD);
    // Past the 5 minutes the docs promise: the helper asks, and the revocation shows.
    const refused = await getAt(host, -DAY_S + 301);
    expect(refused.exitCode).toBe(1);
    expect(refused.stdout).toMatch(/instance token revoked by /);
    expect(refused.stdout).not.toContain(PASSWORD);
    const outcomes = (await service.audit())
      .filter((r) => r.event === 'credential' && r.instance === 'i-behind')
      .map((r) => r.outcome);
    expect(outcomes).toEqual(['granted', 'denied']);
  });

  it("a day ahead: the answer is not taken for expired; it is cached for the service's 10 minutes", async () => {
    const host = await hostFor('i-ahead');
    const before = Date.now();
    const got = await getAt(host, DAY_S);
    expect(got.exitCode, got.stderr).toBe(0);
    expect(JSON.parse(got.stdout).Secret).toBe(PASSWORD);
    const entry = await entryOf(host);
    expect(entry.issuedAt).toBeGreaterThanOrEqual(before + DAY_S * 1000 - 1000);
    expect(entry.expiresAt - entry.issuedAt).toBeGreaterThanOrEqual(TTL_MS - 1000);
    expect(entry.expiresAt - entry.issuedAt).toBeLessThanOrEqual(TTL_MS);
    expect(await host.debugLog()).toContain(
      `this host's clock is about 24 h ahead of the dstack server's (its Date header)`,
    );
    // A second get a minute later (host clock) is a cache hit: one grant.
    expect((await getAt(host, DAY_S + 60)).exitCode).toBe(0);
    expect(
      (await service.audit()).filter(
        (r) => r.event === 'credential' && r.instance === 'i-ahead' && r.outcome === 'granted',
      ),
    ).toHaveLength(1);
  });
});
