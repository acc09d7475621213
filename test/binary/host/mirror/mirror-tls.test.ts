import { REPO_ROOT } from '../../../helpers/repo-root.ts';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HELPER_BINARY } from '../../../helpers/helper-binary.ts';
import { mirrorHome, startMirror, type MirrorHome, type MirrorProcess } from '../../../helpers/mirror-process.ts';
import {
  MANIFEST_V2,
  mirrorTestsRunnable,
  startStaticUpstream,
  type StaticUpstream,
} from '../../../helpers/static-upstream.ts';
import { PYTHON, pythonRequestsAvailable } from '../../../helpers/python-requests.ts';
import { seedManifestList, type SeededManifestList } from '../../../helpers/seed-manifest-list.ts';

// The endpoint over TLS (local-name mode: the dstack server reads with python-dxf, https
// only): `mirror-cert` makes the CA and certificate, `mirror --tls-cert --tls-key` serves
// https on the same listener, a client trusting only ca.pem (or bundle.pem) reads through it.
const runnable = mirrorTestsRunnable();
const pythonRequests = runnable && (await pythonRequestsAvailable());

let up: StaticUpstream;
let home: MirrorHome;
let mirror: MirrorProcess;
let certs: string;
let made: string;
let metadataOnly: MirrorProcess;
let debian: SeededManifestList;
let multi: SeededManifestList;

beforeAll(async () => {
  if (!runnable) return;
  up = await startStaticUpstream(['library/python:3.14', 'myteam/app:1']);
  // Two-platform images, as most official ones are: dstack follows the list to each platform.
  const platforms = [
    { architecture: 'arm64', user: 'arm-user' },
    { architecture: 'amd64', user: 'dstack' },
  ];
  debian = await seedManifestList({
    registryUrl: up.registry.url,
    repository: 'library/debian',
    tag: 'trixie',
    authorization: up.account.basic,
    platforms,
  });
  multi = await seedManifestList({
    registryUrl: up.registry.url,
    repository: 'myteam/multi',
    tag: '2',
    authorization: up.account.basic,
    platforms,
  });
  home = await mirrorHome(join(up.dir, 'host'), up.service.url, up.token);
  certs = join(up.dir, 'certs');
  made = String(
    (await execa(HELPER_BINARY, ['mirror-cert', '--out', certs], { env: home.env, extendEnv: false })).stdout,
  );
  mirror = await startMirror(home, [
    '--listen',
    '127.0.0.1:0',
    '--upstream',
    up.registry.url,
    '--tls-cert',
    join(certs, 'cert.pem'),
    '--tls-key',
    join(certs, 'key.pem'),
  ]);
  metadataOnly = await startMirror(
    home,
    [
      '--listen',
      '127.0.0.1:0',
      '--upstream',
      up.registry.url,
      '--tls-cert',
      join(certs, 'cert.pem'),
      '--tls-key',
      join(certs, 'key.pem'),
      '--metadata-only',
    ],
    { name: 'metadata-only' },
  );
}, 60_000);
afterAll(async () => {
  await metadataOnly?.stop();
  await mirror?.stop();
  await up?.stop();
});

function httpsGet(
  url: string,
  ca: string | undefined,
  accept = MANIFEST_V2,
): Promise<{ status: number; digest?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...(ca ? { ca } : {}), headers: { accept } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          ...(res.headers['docker-content-digest'] ? { digest: String(res.headers['docker-content-digest']) } : {}),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!runnable)('mirror over TLS, certificates from mirror-cert', () => {
  it('mirror-cert writes ca.pem, cert.pem, key.pem (0600), bundle.pem (system CAs + ours) and prints REQUESTS_CA_BUNDLE', async () => {
    expect(made).toContain(`REQUESTS_CA_BUNDLE=${join(certs, 'bundle.pem')}`);
    expect((await stat(join(certs, 'key.pem'))).mode & 0o777).toBe(0o600);
    const ca = new X509Certificate(await readFile(join(certs, 'ca.pem')));
    const cert = new X509Certificate(await readFile(join(certs, 'cert.pem')));
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    const bundle = await readFile(join(certs, 'bundle.pem'), 'utf8');
    expect(bundle.endsWith(await readFile(join(certs, 'ca.pem'), 'utf8'))).toBe(true);
    if (existsSync('/etc/ssl/certs/ca-certificates.crt'))
      expect(bundle.startsWith(await readFile('/etc/ssl/certs/ca-certificates.crt', 'utf8'))).toBe(true);
    expect(made).not.toContain('PRIVATE KEY');
  });

  it('serves https: a client trusting ca.pem reads /v2/python/manifests/3.14; one trusting nothing of ours is refused', async () => {
    expect(mirror.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = await readFile(join(certs, 'ca.pem'), 'utf8');
    const read = await httpsGet(`${mirror.url}/v2/python/manifests/3.14`, ca);
    expect(read.status, read.body).toBe(200);
    expect(read.digest).toBe(up.images.get('library/python:3.14')!.manifestDigest);
    const viaLocalhost = await httpsGet(
      `${mirror.url.replace('127.0.0.1', 'localhost')}/v2/myteam/app/manifests/1`,
      ca,
    );
    expect(viaLocalhost.digest).toBe(up.images.get('myteam/app:1')!.manifestDigest);
    await expect(httpsGet(`${mirror.url}/v2/`, undefined)).rejects.toThrow(
      /self-signed|unable to (get|verify)|certificate/i,
    );
    // Plain http to the TLS listener gets no registry answer.
    const plain = await fetch(`${mirror.url.replace('https:', 'http:')}/v2/`).then(
      (r) => r.status,
      () => 0,
    );
    expect(plain).not.toBe(200);
  });

  it.skipIf(!pythonRequests)(
    "the dstack server's read: python requests with REQUESTS_CA_BUNDLE=bundle.pem and python-dxf's Accept list; manifests and the config blob checked against their digests",
    async () => {
      const script = join(REPO_ROOT, 'test', 'fixtures', 'dstack-image-read.py');
      const env = { PATH: '/usr/bin:/bin', REQUESTS_CA_BUNDLE: join(certs, 'bundle.pem') };
      type Read = {
        status: number;
        digest?: string;
        mediaType?: string;
        error?: string;
        config?: string;
        architectures?: string[];
        user?: string;
        cmd?: string[];
        requests?: number;
      };
      const run = async (repository: string, reference: string): Promise<Read & { ms: number }> => {
        const started = Date.now();
        const result = await execa(PYTHON, [script, mirror.url, repository, reference], {
          env,
          extendEnv: false,
          reject: false,
          timeout: 30_000,
        });
        expect(result.exitCode, String(result.stderr)).toBe(0);
        return { ...(JSON.parse(String(result.stdout)) as Read), ms: Date.now() - started };
      };
      // A single-platform official image and a private namespaced one.
      const python = await run('python', '3.14');
      expect(python).toMatchObject({
        status: 200,
        digest: up.images.get('library/python:3.14')!.manifestDigest,
        config: up.images.get('library/python:3.14')!.configDigest,
        architectures: ['amd64'],
        user: '',
        cmd: ['/hello.txt'],
        requests: 2,
      });
      const app = await run('myteam/app', '1');
      expect(app).toMatchObject({ status: 200, config: up.images.get('myteam/app:1')!.configDigest });

      // A two-platform manifest list, official and private: followed to both platforms' manifests
      // (three manifest reads), amd64's config read (dstack prefers it), both architectures out.
      for (const [repository, seeded] of [
        ['debian', debian],
        ['myteam/multi', multi],
      ] as const) {
        const read = await run(repository, seeded.tag);
        const amd64 = seeded.platforms.find((p) => p.architecture === 'amd64')!;
        expect(read, repository).toMatchObject({
          status: 200,
          digest: seeded.listDigest,
          mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
          config: amd64.configDigest,
          architectures: ['amd64', 'arm64'],
          user: 'dstack',
          cmd: ['/hello.txt'],
          requests: 4,
        });
      }
      const registryLog = await up.registry.log();
      const user = up.account.username;
      for (const platform of debian.platforms) {
        expect(registryLog, platform.architecture).toMatch(
          new RegExp(`auth\\.user\\.name="?${user}"? .*uri="?/v2/library/debian/manifests/${platform.manifestDigest}`),
        );
      }
      expect(registryLog).toMatch(
        new RegExp(`auth\\.user\\.name="?${user}"? .*uri=/v2/library/python/manifests/3\\.14`),
      );
      expect(registryLog).toMatch(
        new RegExp(
          `uri="?/v2/library/debian/blobs/${debian.platforms.find((p) => p.architecture === 'amd64')!.configDigest}`,
        ),
      );
      // No layer blob: the dstack server reads manifests and one config only.
      for (const platform of [...debian.platforms, ...multi.platforms])
        expect(registryLog).not.toContain(`blobs/${platform.layerDigest}`);

      // An unknown tag is the registry's own 404 (MANIFEST_UNKNOWN) at once, not a hang into
      // dstack's 20 s timeout.
      const unknown = await run('python', 'no-such-tag');
      expect(unknown).toMatchObject({ status: 404, error: 'MANIFEST_UNKNOWN' });
      expect(unknown.ms).toBeLessThan(5_000);
      expect(await run('myteam/multi', 'no-such-tag')).toMatchObject({ status: 404, error: 'MANIFEST_UNKNOWN' });

      // Without our CA in the bundle, requests refuses the endpoint: the trust is bundle.pem's.
      const untrusted = await execa(PYTHON, [script, mirror.url, 'python', '3.14'], {
        env: { PATH: '/usr/bin:/bin' },
        extendEnv: false,
        reject: false,
        timeout: 30_000,
      });
      expect(String(untrusted.stderr)).toMatch(/CERTIFICATE_VERIFY_FAILED|SSLError/);
    },
  );

  it('refuses --tls-cert without --tls-key, and a key that is not PEM, in one line each', async () => {
    const bad = await execa(HELPER_BINARY, ['mirror', '--tls-cert', join(certs, 'cert.pem')], {
      env: home.env,
      extendEnv: false,
      reject: false,
    });
    expect(bad.exitCode).toBe(1);
    expect(String(bad.stderr).trim()).toMatch(/^docker-credential-dstack mirror: --tls-cert needs --tls-key too/);
    const notPem = await execa(
      HELPER_BINARY,
      [
        'mirror',
        '--listen',
        '127.0.0.1:0',
        '--upstream',
        up.registry.url,
        '--tls-cert',
        join(certs, 'cert.pem'),
        '--tls-key',
        join(certs, 'ca.pem'),
      ],
      { env: home.env, extendEnv: false, reject: false },
    );
    expect(notPem.exitCode).toBe(1);
    expect(String(notPem.stderr).trim().split('\n')).toHaveLength(1);
    expect(String(notPem.stderr)).toMatch(/not a usable PEM certificate and matching key/);
  });

  // The upstreams' CA bundle is read the way the helper reads its own (capped, FIFO-safe): the
  // code as it was opened it with readFileSync and hung on a FIFO until the timeout killed it.
  it('a FIFO as DOCKER_CREDENTIAL_DSTACK_CA_FILE: refused at once, naming it', async () => {
    const fifo = join(up.dir, 'ca.fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const started = await execa(HELPER_BINARY, ['mirror', '--listen', '127.0.0.1:0', '--upstream', up.registry.url], {
      env: { ...home.env, DOCKER_CREDENTIAL_DSTACK_CA_FILE: fifo },
      extendEnv: false,
      reject: false,
      timeout: 15_000,
    });
    expect(started.timedOut).toBe(false);
    expect(started.exitCode).toBe(1);
    expect(String(started.stderr).trim()).toBe(
      `docker-credential-dstack mirror: cannot read CA bundle ${fifo} (a FIFO, not a regular file): fix DOCKER_CREDENTIAL_DSTACK_CA_FILE`,
    );
  });
});

// The dstack server host's endpoint (`--metadata-only`, what install.sh --for-dstack-server
// runs): the plan-time read works, a layer blob is refused in the registry's error format, and
// a config blob is served only after a manifest that names it.
describe.skipIf(!runnable)('mirror --metadata-only: manifests, tag lists and config blobs, no layers', () => {
  it.skipIf(!pythonRequests)(
    "the dstack server's read of a single image and a two-platform list works through it",
    async () => {
      const script = join(REPO_ROOT, 'test', 'fixtures', 'dstack-image-read.py');
      const env = { PATH: '/usr/bin:/bin', REQUESTS_CA_BUNDLE: join(certs, 'bundle.pem') };
      for (const [repository, reference, config] of [
        ['python', '3.14', up.images.get('library/python:3.14')!.configDigest],
        ['debian', 'trixie', debian.platforms.find((p) => p.architecture === 'amd64')!.configDigest],
      ] as const) {
        const read = await execa(PYTHON, [script, metadataOnly.url, repository, reference], {
          env,
          extendEnv: false,
          reject: false,
          timeout: 30_000,
        });
        expect(JSON.parse(String(read.stdout)), String(read.stderr)).toMatchObject({ status: 200, config });
      }
    },
  );

  it('refuses a layer blob and an unannounced config blob with 403 DENIED; tags/list and manifests pass', async () => {
    const ca = await readFile(join(certs, 'ca.pem'), 'utf8');
    const app = up.images.get('myteam/app:1')!;
    // Before any manifest of myteam/app: even its config blob is refused.
    const early = await httpsGet(`${metadataOnly.url}/v2/myteam/app/blobs/${app.configDigest}`, ca);
    expect(early.status).toBe(403);
    expect(JSON.parse(early.body).errors[0]).toMatchObject({ code: 'DENIED' });
    expect(JSON.parse(early.body).errors[0].message).toMatch(/--metadata-only.*not layer blobs/);
    expect((await httpsGet(`${metadataOnly.url}/v2/myteam/app/manifests/1`, ca)).status).toBe(200);
    expect((await httpsGet(`${metadataOnly.url}/v2/myteam/app/blobs/${app.configDigest}`, ca)).status).toBe(200);
    // The layer that manifest names: never served, and never asked for upstream. Another
    // repository's name does not borrow the config either.
    const layerAsks = async () =>
      (await up.registry.log()).split('\n').filter((l) => l.includes(`/v2/myteam/app/blobs/${app.layerDigest}`)).length;
    const asksBefore = await layerAsks();
    const layer = await httpsGet(`${metadataOnly.url}/v2/myteam/app/blobs/${app.layerDigest}`, ca);
    expect(layer.status).toBe(403);
    expect(await layerAsks(), 'the upstream was not asked for the layer').toBe(asksBefore);
    expect((await httpsGet(`${metadataOnly.url}/v2/python/blobs/${app.configDigest}`, ca)).status).toBe(403);
    expect((await httpsGet(`${metadataOnly.url}/v2/myteam/app/tags/list`, ca, 'application/json')).status).toBe(200);
    // The same layer through the unrestricted endpoint: served, and the upstream was asked.
    expect((await httpsGet(`${mirror.url}/v2/myteam/app/blobs/${app.layerDigest}`, ca)).status).toBe(200);
    expect(await layerAsks()).toBeGreaterThan(asksBefore);
    const log = await metadataOnly.log();
    expect(log).toMatch(/manifests, tag lists and config blobs only \(--metadata-only\)/);
    expect(log).toMatch(
      new RegExp(`kind=blob repository=myteam/app ref=${app.layerDigest} .*status=403 .*cause=metadata_only`),
    );
  });
});
