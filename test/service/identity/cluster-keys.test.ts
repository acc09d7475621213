import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { createClusterKeys, MAX_AGE_MS, REFRESH_COOLDOWN_MS } from '../../../src/service/identity/cluster-keys.ts';
import { startFixtureIssuer, type FixtureIssuer } from '../../fixtures/kubernetes-issuer/kubernetes-issuer.ts';
import { isCodedError } from '../../../src/common/errors.ts';

let issuer: FixtureIssuer;
let dir: string;
beforeAll(async () => {
  issuer = await startFixtureIssuer();
  dir = await mkdtemp(join(tmpdir(), 'cluster-keys-'));
});
afterAll(async () => {
  await issuer.close();
  await rm(dir, { recursive: true, force: true });
});

const mint = () => issuer.mint({ namespace: 'ns', serviceAccount: 'sa', audience: 'a' });
const verify = async (getKey: ReturnType<typeof createClusterKeys>['getKey'], token: string) =>
  jwtVerify(token, getKey, { audience: 'a' });

describe("a cluster's signing keys", () => {
  it('are loaded once through discovery, refetched on an unknown kid at most once per cooldown, and after the maximum age', async () => {
    let clock = 1_000_000;
    const keys = createClusterKeys(
      { issuer: issuer.issuer, keys: { kind: 'discovery', url: issuer.discoveryUrl }, projects: [] },
      { now: () => clock },
    );
    const jwks = () => issuer.fetches['/openid/v1/jwks'] ?? 0;
    const start = jwks();
    await verify(keys.getKey, await mint());
    await verify(keys.getKey, await mint());
    expect(jwks()).toBe(start + 1);
    await issuer.rotate();
    clock += 1_000;
    // The first load was a second ago: an unknown kid now is refused without a fetch.
    await expect(verify(keys.getKey, await mint())).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(jwks()).toBe(start + 1);
    clock += REFRESH_COOLDOWN_MS;
    await verify(keys.getKey, await mint());
    expect(jwks()).toBe(start + 2);
    // Many made-up kids in a row: one fetch at most per cooldown.
    await issuer.rotate();
    clock += REFRESH_COOLDOWN_MS;
    const token = await mint();
    await Promise.all([verify(keys.getKey, token), verify(keys.getKey, token), verify(keys.getKey, token)]);
    expect(jwks()).toBe(start + 3);
    clock += MAX_AGE_MS + 1;
    await verify(keys.getKey, token);
    expect(jwks()).toBe(start + 4);
  });

  it('that fail to load are not fetched again before the cooldown, and a failed reload keeps the last good set', async () => {
    let clock = 9_000_000;
    let down = false;
    let calls = 0;
    const counted: typeof fetch = async (input, init) => {
      calls++;
      if (down) throw new TypeError('fetch failed');
      return fetch(input, init);
    };
    const cluster = {
      issuer: issuer.issuer,
      keys: { kind: 'discovery' as const, url: issuer.discoveryUrl },
      projects: [],
    };
    const keys = createClusterKeys(cluster, { now: () => clock, fetch: counted });
    const token = await mint();
    await verify(keys.getKey, token);
    const loaded = calls;
    down = true;
    clock += MAX_AGE_MS + 1;
    // Due for a reload that fails: the keys it had still verify.
    await verify(keys.getKey, token);
    const failedOnce = calls;
    expect(failedOnce).toBeGreaterThan(loaded);
    for (let i = 0; i < 5; i++) await verify(keys.getKey, token);
    expect(calls, 'no fetch while cooling down').toBe(failedOnce);
    // No keys yet and the source down: each request is refused, one attempt per cooldown.
    const cold = createClusterKeys(cluster, { now: () => clock, fetch: counted });
    const before = calls;
    for (let i = 0; i < 5; i++) await expect(verify(cold.getKey, token)).rejects.toBeDefined();
    expect(calls - before).toBe(1);
    clock += REFRESH_COOLDOWN_MS;
    down = false;
    await verify(cold.getKey, token);
  });

  it('are read from a JWKS file, again when the file gains a key', async () => {
    const path = join(dir, 'jwks.json');
    await writeFile(path, JSON.stringify(issuer.jwks));
    let clock = 5_000_000;
    const keys = createClusterKeys(
      { issuer: issuer.issuer, keys: { kind: 'jwks_file', path }, projects: [] },
      { now: () => clock },
    );
    await verify(keys.getKey, await mint());
    await issuer.rotate();
    await writeFile(path, JSON.stringify(issuer.jwks));
    clock += REFRESH_COOLDOWN_MS;
    const token = await mint();
    expect(decodeProtectedHeader(token).kid).toBe(issuer.jwks.keys[0]!.kid);
    await verify(keys.getKey, token);
  });

  it('that cannot be had are a 503-class failure naming the source and the remedy', async () => {
    const keys = createClusterKeys({
      issuer: 'https://k8s.example',
      keys: { kind: 'jwks_file', path: join(dir, 'absent.json') },
      projects: [],
    });
    const error = await verify(keys.getKey, await mint()).catch((e: unknown) => e);
    expect(isCodedError(error, 'unavailable')).toBe(true);
    expect((error as Error).message).toMatch(
      /cannot read the JWKS file .*absent\.json .*\(ENOENT\).*kubectl get --raw \/openid\/v1\/jwks/,
    );
    const wrongIssuer = createClusterKeys({
      issuer: 'https://k8s.example',
      keys: { kind: 'discovery', url: issuer.discoveryUrl },
      projects: [],
    });
    await expect(verify(wrongIssuer.getKey, await mint())).rejects.toThrow(
      /names issuer .* not https:\/\/k8s\.example/,
    );
  });
});
