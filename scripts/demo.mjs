// `npm run demo`: the whole path on one machine, with the built binaries and nothing else.
// 1. starts dstack-registry-auth on an embedded default: a temporary data directory (keys are
//    generated into it), plain HTTP on 127.0.0.1 with a port picked by the system, and a demo
//    registry configured from dstack's three DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY* variables;
// 2. mints an instance token with `issue-token`, as the dstack server does for a new instance;
// 3. runs docker-credential-dstack exactly as Docker runs it for `docker pull python:3.14`
//    (`get`, the Docker Hub key on stdin) and shows the credential it returns;
// 4. does the same for a registry that trusts the service as its token realm (`issuer`
//    source): the host gets a pull ticket that expires in minutes, never a password;
// 5. where the machine has Debian's docker-registry: a real registry whose token realm is the
//    service, and the host-local mirror endpoint serving an engine a manifest from it with a
//    short-lived credential (pull ticket → registry token); elsewhere it says what it skipped;
// 6. stops everything and removes the temporary directory.
// Secrets are printed masked. Exit status 0 only if the helper got the configured credential.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findDockerRegistry, startDockerRegistry } from './demo-registry.mjs';
import { seedImage } from '../test/helpers/seed-image.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
const SERVICE = join(root, 'dist', `dstack-registry-auth-linux-${arch}`);
const HELPER = join(root, 'dist', `docker-credential-dstack-linux-${arch}`);
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
const ISSUER_REGISTRY = 'registry.mycompany.example';

// Masks a secret for display: keeps a short prefix so a person can tell two apart.
function maskSecret(value) {
  if (value.length <= 8) return '****';
  return `${value.slice(0, 4)}…(${value.length} chars)`;
}

let step = 0;
const say = (title) => console.log(`\n[${++step}] ${title}`);
const show = (line) => console.log(`    ${line}`);

function startService(args, env) {
  const child = spawn(SERVICE, ['serve', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start in 15 s:\n${stderr}`)), 15_000);
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const match = /^dstack-registry-auth listening on (\S+)$/m.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the service exited with ${code}:\n${stderr}`));
    });
  });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve(child.exitCode);
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    });
  return { ready, stop, stderr: () => stderr };
}

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'dstack-registry-auth-demo-'));
  let service;
  const stops = [];
  try {
    // The endpoint step's registry is seeded now, before the service that must know its address.
    const registryBinary = findDockerRegistry();
    const upstream = registryBinary ? await seedUpstream(registryBinary, join(work, 'registry')) : undefined;

    const dataDir = join(work, 'data');
    const password = `demo-${randomBytes(12).toString('hex')}`;
    const serverEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'docker.mycompany.example',
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'docker-user',
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: password,
      DSTACK_REGISTRY_AUTH_AUDIT_LOG: join(dataDir, 'audit.log'),
      // One more registry, whose `auth: token` realm is this service (see docs/issuer.md).
      DSTACK_REGISTRY_AUTH_CONFIG: join(work, 'registries.json'),
    };
    const issuerRegistries = [ISSUER_REGISTRY, ...(upstream ? [upstream.host] : [])].map((registry) => ({
      registry,
      source: 'issuer',
    }));
    await writeFile(serverEnv.DSTACK_REGISTRY_AUTH_CONFIG, `${JSON.stringify({ registries: issuerRegistries })}\n`);

    say('dstack server settings (the three variables dstack already has)');
    show(`DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY=${serverEnv.DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY}`);
    show(`DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME=${serverEnv.DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME}`);
    show(`DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD=${maskSecret(password)}`);

    say(`start the service: ${SERVICE.slice(root.length + 1)} serve --listen 127.0.0.1:0 --data-dir ${dataDir}`);
    service = startService(['--listen', '127.0.0.1:0', '--data-dir', dataDir], serverEnv);
    const url = await service.ready;
    show(`dstack-registry-auth listening on ${url} (keys generated into ${join(dataDir, 'keys')})`);

    say('mint an instance token for a new instance: issue-token --instance demo-instance-1 --project main');
    const token = execFileSync(
      SERVICE,
      ['issue-token', '--instance', 'demo-instance-1', '--project', 'main', '--data-dir', dataDir],
      { env: serverEnv, encoding: 'utf8' },
    ).trim();
    const tokenFile = join(work, 'instance-token');
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    show(`token ${maskSecret(token)} written to ${tokenFile} (0600); the runner host holds only this`);

    say('what the host would configure: GET /v1/host-config');
    const hostConfig = await fetch(`${url}/v1/host-config`, { headers: { authorization: `Bearer ${token}` } });
    show(`HTTP ${hostConfig.status} ${await hostConfig.text()}`);

    say(`docker pull python:3.14 → Docker runs: echo ${DOCKER_HUB_KEY} | docker-credential-dstack get`);
    const helperEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      DOCKER_CREDENTIAL_DSTACK_SERVER: url,
      DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: tokenFile,
      DOCKER_CREDENTIAL_DSTACK_CACHE_DIR: join(work, 'helper-cache'),
      // An empty config file, so no host-wide /etc/docker-credential-dstack/config.json is read.
      DOCKER_CREDENTIAL_DSTACK_CONFIG: join(work, 'helper-config.json'),
    };
    await writeFile(helperEnv.DOCKER_CREDENTIAL_DSTACK_CONFIG, '{}\n');
    let output;
    try {
      output = execFileSync(HELPER, ['get'], {
        input: `${DOCKER_HUB_KEY}\n`,
        env: helperEnv,
        encoding: 'utf8',
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (error) {
      show(
        `the helper failed (exit ${error.status}): ${String(error.stdout || '').trim()} ${String(error.stderr || '').trim()}`,
      );
      throw new Error('the helper did not return a credential');
    }
    const credential = JSON.parse(output);
    show(`stdout: ${JSON.stringify({ ...credential, Secret: maskSecret(credential.Secret ?? '') })}`);
    if (credential.Username !== 'docker-user' || credential.Secret !== password)
      throw new Error('the helper returned something else than the configured credential');
    show('the helper got the configured credential for the default registry, served under the Docker Hub key;');
    show('Docker sends it to the mirror docker.mycompany.example. The password never left the server until this pull.');

    say(
      `docker pull ${ISSUER_REGISTRY}/app:1 → echo ${ISSUER_REGISTRY} | docker-credential-dstack get (issuer source)`,
    );
    const ticketAnswer = JSON.parse(
      execFileSync(HELPER, ['get'], { input: `${ISSUER_REGISTRY}\n`, env: helperEnv, encoding: 'utf8' }),
    );
    const claims = JSON.parse(Buffer.from(ticketAnswer.Secret.split('.')[1] ?? '', 'base64url').toString('utf8'));
    show(`stdout: ${JSON.stringify({ ...ticketAnswer, Secret: maskSecret(ticketAnswer.Secret) })}`);
    show(
      `the secret is a pull ticket: for ${claims.sub} of project ${claims.prj}, only at the realm of service "${claims.aud}", for ${claims.exp - Math.floor(claims.iat)} s`,
    );
    if (ticketAnswer.Username !== 'instance:demo-instance-1' || claims.aud !== ISSUER_REGISTRY)
      throw new Error('the helper did not return a pull ticket for the issuer registry');

    say('the audit log records the issuances (never the secret)');
    const auditLines = (await readFile(join(dataDir, 'audit.log'), 'utf8')).trim().split('\n').slice(-2).join('\n');
    for (const line of auditLines.split('\n')) show(line);
    if (auditLines.includes(password)) throw new Error('the audit log contains the password');

    say(
      'the host-local mirror endpoint (docker-credential-dstack mirror): what dockerd, containerd and podman call at pull time',
    );
    if (upstream) await endpointStep({ upstream, registryBinary, url, dataDir, serverEnv, helperEnv, work, stops });
    else {
      show(
        'skipped: this machine has no docker-registry (Debian package docker-registry; scripts/e2e/install-packages.sh installs it),',
      );
      show('so there is no real registry for the endpoint to forward to. Nothing of this step ran.');
    }

    say('stop the service (SIGTERM)');
    const code = await service.stop();
    service = undefined;
    show(`exited with ${code}`);
    console.log('\ndemo finished: OK');
  } finally {
    for (const stop of stops.reverse()) await stop();
    if (service) await service.stop();
    await rm(work, { recursive: true, force: true });
  }
}

// An open registry on a loopback port with library/hello:1 pushed, then stopped: the endpoint
// step restarts it on the same port and storage with token auth.
async function seedUpstream(binary, dir) {
  const seeding = await startDockerRegistry(binary, dir);
  try {
    return {
      host: seeding.host,
      port: seeding.port,
      dir,
      digest: (await seedImage({ registryUrl: seeding.url, repository: 'library/hello', tag: '1' })).manifestDigest,
    };
  } finally {
    await seeding.stop();
  }
}

async function endpointStep({ upstream, registryBinary, url, dataDir, serverEnv, helperEnv, work, stops }) {
  const authYaml = execFileSync(
    SERVICE,
    [
      'registry-config',
      '--registry',
      upstream.host,
      '--out',
      join(work, 'registry-auth'),
      '--data-dir',
      dataDir,
      '--realm',
      `${url}/v1/token`,
    ],
    { env: serverEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const registry = await startDockerRegistry(registryBinary, upstream.dir, { port: upstream.port, authYaml });
  stops.push(registry.stop);
  const anonymous = await fetch(`${registry.url}/v2/library/hello/manifests/1`);
  show(
    `docker-registry ${registry.url} trusts the service as its token realm (auth: token, from registry-config); anonymous: HTTP ${anonymous.status}`,
  );

  // uid 0 is always served; a developer running the demo as themself is allowed explicitly.
  const uid = process.getuid?.() ?? 0;
  const args = [
    'mirror',
    '--listen',
    '127.0.0.1:0',
    '--upstream',
    registry.url,
    ...(uid === 0 ? [] : ['--allow-uid', String(uid)]),
  ];
  show(`${HELPER.slice(root.length + 1)} ${args.join(' ')}`);
  const endpoint = startEndpoint(args, helperEnv);
  stops.push(endpoint.stop);
  const endpointUrl = await endpoint.ready;
  const manifest = await fetch(`${endpointUrl}/v2/library/hello/manifests/1`, {
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  const digest = manifest.headers.get('docker-content-digest');
  await manifest.arrayBuffer();
  show(
    `an engine's GET ${endpointUrl}/v2/library/hello/manifests/1 (no credentials) → HTTP ${manifest.status}, Docker-Content-Digest ${digest}`,
  );
  if (manifest.status !== 200 || digest !== upstream.digest)
    throw new Error(
      `the endpoint did not serve the seeded manifest (HTTP ${manifest.status}): ${endpoint.stderr().trim().split('\n').pop()}`,
    );
  // The endpoint logs a pull when its response has closed: wait for that line.
  const pullLine = await endpoint.line(/^docker-credential-dstack mirror: (pull .*)$/m);
  if (pullLine) show(`endpoint log: ${pullLine}`);
  const audit = (await readFile(join(dataDir, 'audit.log'), 'utf8'))
    .trim()
    .split('\n')
    .filter((line) => line.includes(upstream.host));
  for (const line of audit.slice(-2)) show(`audit: ${line}`);
  show('the endpoint got a pull ticket from the service, traded it at the realm for a registry token, and');
  show('forwarded the pull with it; the engine sent nothing and received no credential.');
}

// The endpoint in the foreground; `ready` resolves with its URL once it listens.
function startEndpoint(args, env) {
  const child = spawn(HELPER, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const waiters = [];
  const line = (pattern) =>
    new Promise((resolve) => {
      const waiter = () => {
        const match = pattern.exec(stderr);
        if (match) resolve(match[1]);
        return match !== null;
      };
      if (!waiter()) waiters.push(waiter);
      setTimeout(() => resolve(undefined), 5_000).unref();
    });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the mirror endpoint did not start in 15 s:\n${stderr}`)), 15_000);
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      for (const waiter of [...waiters]) if (waiter()) waiters.splice(waiters.indexOf(waiter), 1);
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the mirror endpoint exited with ${code}:\n${stderr}`));
    });
  });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve(undefined);
      child.once('exit', () => resolve(undefined));
      child.kill('SIGTERM');
    });
  return { ready, stop, line, stderr: () => stderr };
}

main().catch((error) => {
  console.error(`\ndemo failed: ${error.message}`);
  process.exitCode = 1;
});
