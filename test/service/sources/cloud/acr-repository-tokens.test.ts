import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { startTestService, type TestService } from '../../../helpers/service-harness.ts';
import { acrEntry, acrServiceEnv, startAcrStandIn, type AcrStandIn } from '../../../fixtures/cloud/acr-stand-in.ts';
import { startTokenServer, type TokenServer } from '../../../fixtures/token-server/token-server.ts';

// ACR with `tokens: repository` (issue 21's last part): the refresh token the service mints stays
// on the service, which trades it at the registry's own realm (what its /v2/ challenge names;
// ACR's /oauth2/token, here the token server fixture) for a pull token of one repository, the
// null GUID as the account, as the broker trades a password. Hosts get only that token.
const REGISTRY = 'fleet.azurecr.io';
const NULL_GUID = '00000000-0000-0000-0000-000000000000';

let dir: string;
let realm: TokenServer;
let acr: AcrStandIn;
let svc: TestService;
let token: string;
const users: Record<string, string> = {};
const savedEnv = { ...process.env };

const credential = (repository?: string) =>
  svc.request('/v1/credentials', {
    token,
    body: { registry: REGISTRY, ...(repository !== undefined ? { repository } : {}) },
  });

describe('acr source with tokens: repository', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'acr-repository-'));
    realm = await startTokenServer({ users, service: REGISTRY, issuer: 'fixture-acr', lifetimeSeconds: 600 });
    acr = await startAcrStandIn({
      registry: REGISTRY,
      challenge: `Bearer realm="${realm.realm}",service="${REGISTRY}"`,
    });
    users[NULL_GUID] = acr.refreshToken;
    Object.assign(process.env, acrServiceEnv(acr));
    const config = join(dir, 'config.json');
    await writeFile(
      config,
      JSON.stringify({
        registries: [acrEntry(REGISTRY, acr, { tokens: 'repository', realms: [new URL(realm.realm).host] })],
      }),
    );
    svc = await startTestService({ env: { DSTACK_REGISTRY_AUTH_CONFIG: config } });
    token = await svc.mint('i-acr', 'main', 3600);
  });
  afterAll(async () => {
    await svc?.close();
    await acr?.close();
    await realm?.close();
    process.env = savedEnv;
    await rm(dir, { recursive: true, force: true });
  });

  it('answers a repository with a bearer pull token for that repository alone, never the refresh token', async () => {
    const answer = await credential('team/app');
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json).toMatchObject({ kind: 'bearer', repository: 'team/app', source: 'acr' });
    expect(answer.text).not.toContain(acr.refreshToken);
    expect(decodeJwt(answer.json.token).access).toEqual([{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    // The realm was asked with the null GUID and the refresh token, for pull on that repository.
    expect(realm.requests.map((r) => [r.method, r.user, r.scope, r.status])).toEqual([
      ['GET', NULL_GUID, 'repository:team/app:pull', 200],
    ]);
    expect([acr.exchanges, acr.rejected]).toEqual([1, []]);
  });

  it('keeps each repository token (single flight), mints the refresh token once for all of them', async () => {
    await Promise.all([credential('team/app'), credential('team/app'), credential('team/worker')]);
    expect(realm.requests.map((r) => r.scope)).toEqual(['repository:team/app:pull', 'repository:team/worker:pull']);
    expect(acr.exchanges).toBe(1);
  });

  it('a token lives no longer than the realm said, and is traded again after', async () => {
    svc.advance(600 * 0.75 + 5);
    const again = await credential('team/app');
    expect(again.status).toBe(200);
    expect(realm.requests.filter((r) => r.scope === 'repository:team/app:pull')).toHaveLength(2);
  });

  it('refuses a request without a repository (the credential-helper protocol cannot name one), naming why', async () => {
    const answer = await credential();
    expect(answer.status).toBe(404);
    expect(answer.json.error).toBe('not_found');
    expect(answer.json.message).toContain('source acr with tokens: repository');
    expect(answer.text).not.toContain(acr.refreshToken);
  });

  it('a realm that refuses the refresh token: 503 for the host, the account named in the log, never the token', async () => {
    users[NULL_GUID] = 'not-the-refresh-token';
    svc.advance(600);
    const answer = await credential('team/other');
    users[NULL_GUID] = acr.refreshToken;
    expect(answer.status).toBe(503);
    const said = [answer.text, ...svc.logLines].join('\n');
    expect(said).toMatch(
      /registry fleet\.azurecr\.io \(source acr\): token request for repository team\/other failed: GET .* answered HTTP 401 .*the realm refused account 00000000-0000-0000-0000-000000000000/,
    );
    expect(said).not.toContain(acr.refreshToken);
  });
});
