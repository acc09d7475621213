// `npm run demo`: the whole path on one machine, with the built binaries and nothing else.
// 1. starts dstack-registry-auth on an embedded default: a temporary data directory (keys are
//    generated into it), plain HTTP on 127.0.0.1 with a port picked by the system, and a demo
//    registry configured from dstack's three DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY* variables;
// 2. mints an instance token with `issue-token`, as the dstack server does for a new instance;
// 3. runs docker-credential-dstack exactly as Docker runs it for `docker pull python:3.14`
//    (`get`, the Docker Hub key on stdin) and shows the credential it returns;
// 4. does the same for a registry that trusts the service as its token realm (`issuer`
//    source): the host gets a pull ticket that expires in minutes, never a password;
// 5. stops the service and removes the temporary directory.
// Secrets are printed masked. Exit status 0 only if the helper got the configured credential.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
  try {
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
    await writeFile(serverEnv.DSTACK_REGISTRY_AUTH_CONFIG, `${JSON.stringify({ registries: [{ registry: ISSUER_REGISTRY, source: 'issuer' }] })}\n`);

    say('dstack server settings (the three variables dstack already has)');
    show(`DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY=${serverEnv.DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY}`);
    show(`DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME=${serverEnv.DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME}`);
    show(`DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD=${maskSecret(password)}`);

    say(`start the service: ${SERVICE.slice(root.length + 1)} serve --listen 127.0.0.1:0 --data-dir ${dataDir}`);
    service = startService(['--listen', '127.0.0.1:0', '--data-dir', dataDir], serverEnv);
    const url = await service.ready;
    show(`dstack-registry-auth listening on ${url} (keys generated into ${join(dataDir, 'keys')})`);

    say('mint an instance token for a new instance: issue-token --instance demo-instance-1 --project main');
    const token = execFileSync(SERVICE, ['issue-token', '--instance', 'demo-instance-1', '--project', 'main', '--data-dir', dataDir], { env: serverEnv, encoding: 'utf8' }).trim();
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
      output = execFileSync(HELPER, ['get'], { input: `${DOCKER_HUB_KEY}\n`, env: helperEnv, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (error) {
      show(`the helper failed (exit ${error.status}): ${String(error.stdout || '').trim()} ${String(error.stderr || '').trim()}`);
      throw new Error('the helper did not return a credential');
    }
    const credential = JSON.parse(output);
    show(`stdout: ${JSON.stringify({ ...credential, Secret: maskSecret(credential.Secret ?? '') })}`);
    if (credential.Username !== 'docker-user' || credential.Secret !== password) throw new Error('the helper returned something else than the configured credential');
    show('the helper got the configured credential for the default registry, served under the Docker Hub key;');
    show('Docker sends it to the mirror docker.mycompany.example. The password never left the server until this pull.');

    say(`docker pull ${ISSUER_REGISTRY}/app:1 → echo ${ISSUER_REGISTRY} | docker-credential-dstack get (issuer source)`);
    const ticketAnswer = JSON.parse(execFileSync(HELPER, ['get'], { input: `${ISSUER_REGISTRY}\n`, env: helperEnv, encoding: 'utf8' }));
    const claims = JSON.parse(Buffer.from(ticketAnswer.Secret.split('.')[1] ?? '', 'base64url').toString('utf8'));
    show(`stdout: ${JSON.stringify({ ...ticketAnswer, Secret: maskSecret(ticketAnswer.Secret) })}`);
    show(`the secret is a pull ticket: for ${claims.sub} of project ${claims.prj}, only at the realm of service "${claims.aud}", for ${claims.exp - Math.floor(claims.iat)} s`);
    if (ticketAnswer.Username !== 'instance:demo-instance-1' || claims.aud !== ISSUER_REGISTRY) throw new Error('the helper did not return a pull ticket for the issuer registry');

    say('the audit log records the issuances (never the secret)');
    const auditLines = execFileSync('tail', ['-n', '2', join(dataDir, 'audit.log')], { encoding: 'utf8' }).trim();
    for (const line of auditLines.split('\n')) show(line);
    if (auditLines.includes(password)) throw new Error('the audit log contains the password');

    say('stop the service (SIGTERM)');
    const code = await service.stop();
    service = undefined;
    show(`exited with ${code}`);
    console.log('\ndemo finished: OK');
  } finally {
    if (service) await service.stop();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`\ndemo failed: ${error.message}`);
  process.exitCode = 1;
});
