import { lstat, readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { request } from 'node:https';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMirrorStack, type MirrorStack } from './harness/mirror-stack.ts';
import { startMirrorEndpoint, type MirrorEndpoint } from './harness/mirror-endpoint.ts';
import { clearDockerdMirrors } from './harness/engine-mirror-files.ts';
import { describePull, engineImagePull } from './harness/engine-api.ts';
import { describeResult } from './harness/docker-cli.ts';
import { dstackRewrite, fromImageAndTag } from './harness/dstack-rewrite.ts';
import { runPodman } from './harness/podman.ts';
import { PYTHON, pythonRequestsAvailable } from '../helpers/python-requests.ts';

// Issue 15, proof 4: in local-name mode the registry password is in no log, engine file,
// answer to an engine or to the dstack server, environment or process listing. Both hosts are
// this machine: the runner host's endpoint (plain http, the shim's and podman's pulls of the
// rewritten names) and the dstack server host's (TLS, the plan-time read with python
// requests). With the static source the password is the credential, so it lives in the
// endpoints' 0600 credential cache and, on the server side, in dstack-registry-auth's own
// environment (where the operator put it): nowhere else.
await pythonRequestsAvailable();

describe('e2e: local-name mode, the password stays in the cache and the service', () => {
  let stack: MirrorStack;
  let serverHost: MirrorEndpoint;
  let address: string;
  const answers: Array<[string, string]> = [];
  beforeAll(async () => {
    stack = await startMirrorStack({ source: 'static', images: ['myteam/app:1'] });
    await clearDockerdMirrors(stack.dockerd);
    address = new URL(stack.endpoint.url).host;
    const certs = join(stack.dir, 'certs');
    const made = await stack.host.run(['mirror-cert', '--out', certs]);
    answers.push(['mirror-cert output', `${String(made.stdout)}${String(made.stderr)}`]);
    serverHost = await startMirrorEndpoint({
      dir: join(stack.dir, 'server-host'),
      helper: stack.host,
      name: 'server-host-mirror',
      args: [
        '--upstream',
        stack.registry.url,
        '--tls-cert',
        join(certs, 'cert.pem'),
        '--tls-key',
        join(certs, 'key.pem'),
      ],
    });

    // The runner host: configure --local-name (podman's drop-in), the shim's pulls, podman's.
    const setup = join(stack.dir, 'setup');
    const configured = await stack.host.run([
      'configure',
      '--local-name',
      address,
      '--engines',
      'containerd,podman',
      '--docker-config',
      stack.host.dockerConfigDir,
      '--containerd-certs-dir',
      join(setup, 'containerd-certs.d'),
      '--containerd-config',
      join(setup, 'containerd-config.toml'),
      '--registries-conf-dir',
      join(setup, 'registries.conf.d'),
      '--state-dir',
      join(setup, 'state'),
    ]);
    if (configured.exitCode !== 0) throw new Error(describeResult(configured));
    answers.push(['configure output', `${String(configured.stdout)}${String(configured.stderr)}`]);
    for (const image of ['python:3.14', 'myteam/app:1']) {
      const { fromImage, tag } = fromImageAndTag(dstackRewrite(image, address));
      const pull = await engineImagePull(stack.dockerd, fromImage, tag);
      if (pull.error) throw new Error(`${image}: ${describePull(pull)}`);
      answers.push([`Engine API pull ${image}`, pull.body]);
    }
    const podmanDir = join(stack.dir, 'podman');
    await mkdir(join(podmanDir, 'home'), { recursive: true });
    await writeFile(join(podmanDir, 'auth.json'), '{}\n');
    const podman = await runPodman(
      {
        dir: podmanDir,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: join(podmanDir, 'home'),
          REGISTRY_AUTH_FILE: join(podmanDir, 'auth.json'),
          CONTAINERS_REGISTRIES_CONF: join(setup, 'registries.conf.d', '90-docker-credential-dstack.conf'),
        },
      },
      ['pull', dstackRewrite('myteam/app:1', address)],
    );
    if (podman.exitCode !== 0) throw new Error(describeResult(podman));
    answers.push(['podman pull', `${String(podman.stdout)}${String(podman.stderr)}`]);

    // The dstack server host: its plan-time read, and every answer the endpoint gives it.
    const read = await execa(
      PYTHON,
      [
        join(import.meta.dirname, '..', 'fixtures', 'dstack-image-read.py'),
        serverHost.url.replace('127.0.0.1', 'localhost'),
        'python',
        '3.14',
      ],
      {
        env: { PATH: '/usr/bin:/bin', REQUESTS_CA_BUNDLE: join(certs, 'bundle.pem') },
        extendEnv: false,
        reject: false,
        timeout: 30_000,
      },
    );
    answers.push(['dstack read', `${String(read.stdout)}${String(read.stderr)}`]);
    const ca = await readFile(join(certs, 'ca.pem'), 'utf8');
    const config = (JSON.parse(String(read.stdout)) as { config: string }).config;
    for (const path of [
      '/v2/',
      '/v2/python/manifests/3.14',
      '/v2/python/manifests/no-such-tag',
      '/v2/python/tags/list',
      `/v2/python/blobs/${config}`,
      '/v2/myteam/app/manifests/1',
    ]) {
      answers.push([`endpoint answer to the dstack server ${path}`, await rawAnswer(`${serverHost.url}${path}`, ca)]);
    }
  }, 180_000);
  afterAll(async () => {
    await serverHost?.stop();
    await stack?.stop();
  });

  const secrets = () => [stack.account!.password, stack.account!.basic.slice('Basic '.length)];
  const holds = (text: string) => secrets().some((s) => text.includes(s));

  it('no answer to an engine, to podman or to the dstack server holds it', () => {
    expect(answers.length).toBeGreaterThanOrEqual(10);
    expect(answers.find(([name]) => name === 'dstack read')![1]).toContain('"status": 200');
    for (const [name, text] of answers) expect(holds(text), name).toBe(false);
  });

  it("of every file under the test (logs, engine files, the service audit log, the data roots), only the endpoints' 0600 credential cache holds it", async () => {
    const holding: string[] = [];
    let files = 0;
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile()) {
          const info = await lstat(path);
          if (info.size > 64 * 1024 * 1024) continue;
          files++;
          if (holds(await readFile(path, 'latin1'))) holding.push(path);
        }
      }
    };
    await walk(stack.dir);
    expect(files).toBeGreaterThan(50);
    for (const log of [
      stack.endpoint.logPath,
      serverHost.logPath,
      stack.dockerd.logPath,
      stack.service.auditLogPath,
      stack.service.stderrPath,
    ])
      expect(holding, log).not.toContain(log);
    expect(holding.length, 'the cache holds it (static source: the credential is the password)').toBeGreaterThanOrEqual(
      1,
    );
    for (const path of holding) {
      expect(relative(stack.host.cacheDir, path).startsWith('..'), `${path} is outside the credential cache`).toBe(
        false,
      );
      expect((await lstat(path)).mode & 0o777, path).toBe(0o600);
    }
  });

  it("no process's command line holds it, and only dstack-registry-auth's environment does", async () => {
    const inEnviron: number[] = [];
    const inCmdline: number[] = [];
    let seen = 0;
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'latin1').catch(() => undefined);
      const environ = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => undefined);
      if (cmdline === undefined) continue;
      seen++;
      if (holds(cmdline)) inCmdline.push(pid);
      if (environ !== undefined && holds(environ)) inEnviron.push(pid);
    }
    expect(seen).toBeGreaterThan(5);
    expect(inCmdline).toEqual([]);
    expect(inEnviron).toEqual([stack.service.pid]);
    // The endpoints, dockerd and the service were all running and looked at.
    for (const pid of [stack.endpoint.pid, serverHost.pid, stack.dockerd.pid, stack.service.pid])
      expect(await readFile(`/proc/${pid}/environ`, 'latin1')).not.toBe('');
  });
});

// The status line, every header and the body of one GET, as the client received them.
function rawAnswer(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { ca, headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve(
            `HTTP ${res.statusCode}\n${res.rawHeaders.join('\n')}\n\n${Buffer.concat(chunks).toString('latin1')}`,
          ),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}
