import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveCredential } from '../../../src/host/credentials/resolve-credential.ts';
import type { Diagnostics } from '../../../src/host/credentials/diagnostics.ts';
import type { HelperSettings } from '../../../src/host/settings/settings.ts';
import { DEFAULT_REGISTRY_ENV, startTestService, type TestService } from '../../helpers/service-harness.ts';

// How long a revoked instance keeps pulling with a static credential it has cached: until the
// helper's refresh point, half of the service's credentialTtl after it received the
// credential. credentialTtl is the operator's knob; both sides share one frozen clock here.
const KEY = 'docker.mycompany.example';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const quiet: Diagnostics = { debug: () => {}, warn: () => {} };

describe('revocation window of a cached static credential', () => {
  it.each([
    ['10m', 300_000],
    ['2m', 60_000],
    ['30s', 15_000],
  ])(
    'DSTACK_REGISTRY_AUTH_CREDENTIAL_TTL=%s: served from the cache for %d ms after receipt, then the revocation shows',
    async (ttl, windowMs) => {
      const svc: TestService = await startTestService({
        env: { ...DEFAULT_REGISTRY_ENV, DSTACK_REGISTRY_AUTH_CREDENTIAL_TTL: ttl },
      });
      const dir = await mkdtemp(join(tmpdir(), 'dcd-window-'));
      cleanups.push(
        () => svc.close(),
        () => rm(dir, { recursive: true, force: true }),
      );
      const tokenFile = join(dir, 'token');
      await writeFile(tokenFile, await svc.mint('i-window', 'main'), { mode: 0o600 });
      const settings: HelperSettings = {
        server: svc.url,
        tokenFile,
        cacheDir: join(dir, 'cache'),
        onError: 'fail',
        timeoutMs: 5000,
        debug: false,
        configPath: join(dir, 'none.json'),
      };
      const deps = { now: () => svc.now() };

      expect(await resolveCredential(KEY, settings, quiet, deps)).toMatchObject({
        kind: 'basic',
        username: 'docker-user',
      });
      await svc.service.revocations.revoke('i-window', svc.now());

      svc.advance((windowMs - 1) / 1000);
      // Still inside the window: the cache answers, the service is not asked.
      expect(revealed(await resolveCredential(KEY, settings, quiet, deps))).toBe(
        DEFAULT_REGISTRY_ENV.DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD,
      );
      svc.advance(1 / 1000);
      // At the refresh point the helper asks, the service refuses, the entry is gone.
      await expect(resolveCredential(KEY, settings, quiet, deps)).rejects.toMatchObject({ code: 'token_revoked' });
      await expect(resolveCredential(KEY, settings, quiet, deps)).rejects.toMatchObject({ code: 'token_revoked' });
      const grants = svc.auditLines
        .map((line) => JSON.parse(line))
        .filter((event) => event.event === 'credential' && event.instance === 'i-window');
      expect(grants.map((event) => event.outcome)).toEqual(['granted', 'denied', 'denied']);
    },
  );
});

function revealed(credential: Awaited<ReturnType<typeof resolveCredential>>): string | undefined {
  return credential?.kind === 'basic' ? credential.secret.reveal() : undefined;
}
