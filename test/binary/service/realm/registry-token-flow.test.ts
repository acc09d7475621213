import { builtBinary } from '../../../helpers/repo-root.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { PassThrough } from 'node:stream';
import { buildService, type Service } from '../../../../src/service/build-service.ts';
import { loadServiceConfig, type ServiceConfig } from '../../../../src/service/config/service-config.ts';
import { loadKeyRing } from '../../../../src/service/token/key-ring.ts';
import { mintInstanceToken } from '../../../../src/service/token/instance-token.ts';
import { mintTicket } from '../../../../src/service/token/ticket.ts';
import type { KeyRing } from '../../../../src/service/core/ports.ts';
import {
  dockerRegistryAvailable,
  seedImage,
  startRegistry,
  type RegistryProcess,
  type SeededImage,
} from '../../../helpers/registry.ts';

// The token flow against Debian's real docker-registry (distribution 2.8), configured with
// exactly what the built `registry-config` prints, and the service wired as `serve` wires it
// (buildService: same data dir, keys, SQLite revocation store) on a loopback port. The image
// is seeded through an open registry on the same storage before token auth is switched on
// (no test-only signer).
const BINARY = process.env.DSTACK_REGISTRY_AUTH_TEST_BINARY ?? builtBinary('dstack-registry-auth');
const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const available = dockerRegistryAvailable();

let dir: string;
let realmServer: Server;
let realmBase: string;
let service: Service | undefined;
let registry: RegistryProcess;
let image: SeededImage;
let config: ServiceConfig;
let ticketKeys: KeyRing;
let env: Record<string, string>;
let auditText = '';
const auditStream = new PassThrough().on('data', (chunk) => (auditText += chunk));
const lastAudit = () => JSON.parse(auditText.trim().split('\n').at(-1)!) as Record<string, unknown>;

async function runRegistryConfig(): Promise<string> {
  if (!existsSync(BINARY))
    throw new Error(`${BINARY} is not built; run "npm run build:binary -- --host-only" first (npm test does)`);
  const result = await execa(
    BINARY,
    ['registry-config', '--registry', registry.host, '--out', join(dir, 'registry-auth')],
    { env, extendEnv: false, cwd: dir },
  );
  expect(result.stderr).toContain('dstack-registry-auth-bundle.pem');
  return result.stdout;
}

// (Re)starts the service the way `serve` does, from the same data dir and environment.
async function loadRealm(): Promise<void> {
  await service?.close();
  config = await loadServiceConfig(env, {});
  service = await buildService(config, { env, auditStream });
  ticketKeys = await loadKeyRing({ dataDir: config.dataDir, name: 'ticket', alg: 'EdDSA', env });
}

async function startTokenRegistry(): Promise<void> {
  const snippet = await runRegistryConfig();
  registry = await startRegistry({
    dir: join(dir, 'registry'),
    port: registry.port,
    name: `token-${Date.now()}`,
    auth: { yaml: snippet },
  });
}

async function ticket(
  options: { instance?: string; service?: string; issuedAt?: Date; ttlSeconds?: number } = {},
): Promise<{ username: string; password: string }> {
  const instance = options.instance ?? 'i-1';
  if (!options.service && !options.issuedAt && !options.ttlSeconds) {
    // The normal way: what POST /v1/credentials hands a runner host for its instance token.
    const { token } = await mintInstanceToken(
      service!.instanceKeys,
      { instance, project: 'main', ttlSeconds: 3600, issuer: config.issuerName },
      new Date(),
    );
    const res = await fetch(`${realmBase}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ registry: registry.host }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { username: string; secret: string; source: string };
    expect(body.source).toBe('issuer');
    return { username: body.username, password: body.secret };
  }
  const { token } = await mintTicket(
    ticketKeys,
    {
      instance,
      project: 'main',
      service: options.service ?? registry.host,
      ttlSeconds: options.ttlSeconds ?? 300,
      issuer: config.issuerName,
    },
    options.issuedAt ?? new Date(),
  );
  return { username: `instance:${instance}`, password: token };
}

interface CurlResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

// One request with curl, as an operator would walk the flow by hand.
async function curl(
  url: string,
  options: { user?: { username: string; password: string }; bearer?: string; method?: string; accept?: string } = {},
): Promise<CurlResponse> {
  const args = ['-sS', '-i', '--max-time', '10', '-X', options.method ?? 'GET'];
  if (options.user) args.push('-u', `${options.user.username}:${options.user.password}`);
  if (options.bearer) args.push('-H', `Authorization: Bearer ${options.bearer}`);
  if (options.accept) args.push('-H', `Accept: ${options.accept}`);
  const { stdout } = await execa('curl', [...args, url]);
  const split = stdout.indexOf('\r\n\r\n');
  const head = stdout.slice(0, split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(head[0]!.split(' ')[1]), headers, body: stdout.slice(split + 4) };
}

function parseChallenge(header: string): Record<string, string> {
  expect(header).toMatch(/^Bearer /);
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

// 401 challenge from the registry → realm with the credential → token → the manifest.
async function pullManifest(
  user?: { username: string; password: string },
  scopeOverride?: string,
): Promise<{ realm: CurlResponse; manifest?: CurlResponse }> {
  const manifestUrl = `${registry.url}/v2/${image.repository}/manifests/${image.tag}`;
  const challenge = await curl(manifestUrl, { accept: MANIFEST_V2 });
  expect(challenge.status).toBe(401);
  const params = parseChallenge(challenge.headers['www-authenticate']!);
  expect(params).toMatchObject({
    realm: `${realmBase}/v1/token`,
    service: registry.host,
    scope: `repository:${image.repository}:pull`,
  });
  const query = new URLSearchParams({ service: params.service!, scope: scopeOverride ?? params.scope! });
  const realm = await curl(`${params.realm}?${query}`, user ? { user } : {});
  if (realm.status !== 200) return { realm };
  const manifest = await curl(manifestUrl, { bearer: JSON.parse(realm.body).token, accept: MANIFEST_V2 });
  return { realm, manifest };
}

describe.skipIf(!available)('the token flow against the real docker-registry', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'registry-token-flow-'));
    realmServer = createServer((req, res) => (service ? service.handler(req, res) : res.writeHead(503).end()));
    await new Promise<void>((done) => realmServer.listen(0, '127.0.0.1', done));
    realmBase = `http://127.0.0.1:${(realmServer.address() as AddressInfo).port}`;
    // Seed through an open registry first; it also fixes the port the token registry reuses.
    registry = await startRegistry({ dir: join(dir, 'registry'), name: 'seed' });
    image = await seedImage({ registryUrl: registry.url, repository: 'library/python', tag: '3.14' });
    await registry.stop();
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      DSTACK_REGISTRY_AUTH_DATA_DIR: join(dir, 'data'),
      DSTACK_REGISTRY_AUTH_PUBLIC_URL: realmBase,
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: registry.host,
      DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'issuer',
    };
    await startTokenRegistry();
    await loadRealm();
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
    await service?.close();
    await new Promise((done) => realmServer?.close(done));
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('registry-config prints a snippet naming the realm, the service, the issuer and an absolute bundle path', async () => {
    const snippet = await runRegistryConfig();
    expect(snippet).toContain(`realm: "${realmBase}/v1/token"`);
    expect(snippet).toContain(`service: "${registry.host}"`);
    expect(snippet).toContain('issuer: "dstack-registry-auth"');
    const bundle = /rootcertbundle: "([^"]+)"/.exec(snippet)![1]!;
    expect(bundle).toBe(join(dir, 'registry-auth', 'dstack-registry-auth-bundle.pem'));
    expect(await readFile(bundle, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it('pulls a manifest with nothing but a valid pull ticket', async () => {
    const { realm, manifest } = await pullManifest(await ticket());
    expect(realm.status).toBe(200);
    expect(JSON.parse(realm.body).expires_in).toBeGreaterThanOrEqual(60);
    expect(manifest?.status).toBe(200);
    expect(manifest?.headers['docker-content-digest']).toBe(image.manifestDigest);
    expect(lastAudit()).toMatchObject({ event: 'realm', outcome: 'granted', instance: 'i-1', service: registry.host });
    expect(auditText).not.toContain(JSON.parse(realm.body).token.split('.')[2]);
  });

  it('also works with the OAuth2 password grant (POST), as containerd asks', async () => {
    const user = await ticket();
    const form = new URLSearchParams({
      grant_type: 'password',
      username: user.username,
      password: user.password,
      service: registry.host,
      scope: `repository:${image.repository}:pull`,
      client_id: 'test',
    });
    const res = await fetch(`${realmBase}/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    expect(res.status).toBe(200);
    const { access_token: token } = (await res.json()) as { access_token: string };
    const manifest = await curl(`${registry.url}/v2/${image.repository}/manifests/${image.tag}`, {
      bearer: token,
      accept: MANIFEST_V2,
    });
    expect(manifest.status).toBe(200);
  });

  it('fails with 401 for an expired ticket', async () => {
    const { realm, manifest } = await pullManifest(
      await ticket({ issuedAt: new Date(Date.now() - 3600e3), ttlSeconds: 60 }),
    );
    expect(realm.status).toBe(401);
    expect(realm.headers['www-authenticate']).toBe('Basic realm="dstack-registry-auth"');
    expect(JSON.parse(realm.body).error).toBe('token_expired');
    expect(manifest).toBeUndefined();
  });

  it('fails with 401 once the instance is revoked', async () => {
    const user = await ticket({ instance: 'i-revoked' });
    expect((await pullManifest(user)).manifest?.status).toBe(200);
    await service!.revocations.revoke('i-revoked', new Date());
    const { realm } = await pullManifest(user);
    expect(realm.status).toBe(401);
    expect(JSON.parse(realm.body).error).toBe('token_revoked');
  });

  it('fails with 401 for a ticket issued for another registry service', async () => {
    const { realm } = await pullManifest(await ticket({ service: 'other.example:5000' }));
    expect(realm.status).toBe(401);
    expect(lastAudit()).toMatchObject({ outcome: 'denied', reason: 'ticket_wrong_service' });
  });

  it('denies a push: the token carries pull only and the registry refuses the upload with 401', async () => {
    const { realm } = await pullManifest(await ticket(), `repository:${image.repository}:pull,push`);
    expect(realm.status).toBe(200);
    const token = JSON.parse(realm.body).token as string;
    const upload = await curl(`${registry.url}/v2/${image.repository}/blobs/uploads/`, {
      method: 'POST',
      bearer: token,
    });
    expect(upload.status).toBe(401);
    expect(upload.headers['www-authenticate']).toContain('error="insufficient_scope"');
  });

  it('gives an anonymous client a token the registry refuses for the manifest', async () => {
    const { realm, manifest } = await pullManifest(undefined);
    expect(realm.status).toBe(200);
    expect(manifest?.status).toBe(401);
  });

  it('rotates the signing key without downtime: tokens of the old and the new key both verify', async () => {
    const oldToken = JSON.parse((await pullManifest(await ticket())).realm.body).token as string;
    const keysDir = join(dir, 'data', 'keys');
    await rename(join(keysDir, 'registry.pem'), join(keysDir, 'registry.previous-1.pem'));
    await registry.stop();
    await startTokenRegistry();
    expect(
      (await readFile(join(dir, 'registry-auth', 'dstack-registry-auth-bundle.pem'), 'utf8')).match(
        /BEGIN CERTIFICATE/g,
      ),
    ).toHaveLength(2);
    await loadRealm();
    const fresh = await pullManifest(await ticket());
    expect(fresh.manifest?.status).toBe(200);
    expect(
      JSON.parse(Buffer.from(JSON.parse(fresh.realm.body).token.split('.')[0], 'base64url').toString()).kid,
    ).not.toBe(JSON.parse(Buffer.from(oldToken.split('.')[0]!, 'base64url').toString()).kid);
    const old = await curl(`${registry.url}/v2/${image.repository}/manifests/${image.tag}`, {
      bearer: oldToken,
      accept: MANIFEST_V2,
    });
    expect(old.status).toBe(200);
  });
});
