import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerd, type Dockerd } from './harness/dockerd.ts';
import { ensureE2ePrerequisites, HELPER_BINARY } from '../helpers/ensure-packages.ts';
import { startContractServer, TEST_INSTANCE_TOKEN, type ContractServer } from '../helpers/contract-server.ts';
import { freeLoopbackPort } from '../helpers/free-port.ts';
import { dockerdMatrix } from './harness/engine-matrix.ts';
import { engineImagePull } from './harness/engine-api.ts';

// doctor's drift check against a real dockerd: the mirror taken out of daemon.json while the
// running engine still has it, and what a SIGHUP reload then really does (issue 12).
describe.each(dockerdMatrix())('doctor: drift between daemon.json and the running dockerd, on $label', (engine) => {
  const MIRROR = 'http://127.0.0.1:5997';
  let dir: string;
  let dockerd: Dockerd;
  let server: ContractServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    ensureE2ePrerequisites();
    dir = await mkdtemp('/tmp/e2e-drift-');
    dockerd = await startDockerd({ dir, daemonJson: { 'registry-mirrors': [MIRROR] }, engine });
    server = await startContractServer({ hostConfig: { mirrors: [MIRROR], registries: [] } });
    await writeFile(join(dir, 'token'), TEST_INSTANCE_TOKEN, { mode: 0o600 });
    await writeFile(
      join(dir, 'helper.json'),
      JSON.stringify({
        server: server.url,
        tokenFile: join(dir, 'token'),
        cacheDir: join(dir, 'cache'),
        timeoutMs: 2000,
      }),
    );
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      DOCKER_HOST: dockerd.host,
      DOCKER_CREDENTIAL_DSTACK_CONFIG: join(dir, 'helper.json'),
      DOCKER_CREDENTIAL_DSTACK_HUB_PROBE: `127.0.0.1:${await freeLoopbackPort()}`,
    };
  });
  afterAll(async () => {
    await dockerd?.stop();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const doctor = () =>
    execa(
      HELPER_BINARY,
      [
        'doctor',
        '--daemon-json',
        dockerd.daemonJsonPath,
        '--docker-config',
        join(dir, 'client'),
        '--docker-certs-dir',
        dockerd.certsDir,
        '--engines',
        'docker',
        '--no-mirror-endpoint',
      ],
      { reject: false, env, extendEnv: false, timeout: 60_000 },
    );
  // Docker 26 and later report no mirrors as null, 20.10 as [].
  const running = async () => ((await dockerd.info()).RegistryConfig.Mirrors ?? []) as string[];

  it('file and engine agree: ok; the key removed from the file: drift that a reload keeps and a restart drops', async () => {
    expect((await doctor()).stdout).toMatch(
      new RegExp(`^ok   dockerd mirrors: docker info shows ${MIRROR}, as ${dockerd.daemonJsonPath} does$`, 'm'),
    );

    await writeFile(dockerd.daemonJsonPath, '{\n  "log-level": "info"\n}\n');
    const drifted = await doctor();
    expect(drifted.exitCode).toBe(1);
    expect(drifted.stdout).toMatch(
      new RegExp(
        `^fail dockerd mirrors: drift: the running dockerd uses ${MIRROR}, but ${dockerd.daemonJsonPath} does not list it: a reload keeps it`,
        'm',
      ),
    );
    // what doctor says about the reload is what dockerd does: the absent key leaves the list alone
    await dockerd.reload();
    expect(await running()).toEqual([`${MIRROR}/`]);

    // with the key present and empty, a reload applies it and the engine follows the file
    await writeFile(dockerd.daemonJsonPath, '{\n  "registry-mirrors": []\n}\n');
    expect((await doctor()).stdout).toMatch(/drift: .* a reload drops it \(SIGHUP applies the file's list\)/);
    await dockerd.reload();
    expect(await running()).toEqual([]);
    expect((await doctor()).stdout).toMatch(
      new RegExp(
        `^fail dockerd mirrors: neither ${dockerd.daemonJsonPath} nor the running dockerd \\(no mirror\\) names ${MIRROR}`,
        'm',
      ),
    );

    // the file names it, the engine does not yet: the file wins at the next reload
    await writeFile(dockerd.daemonJsonPath, JSON.stringify({ 'registry-mirrors': [MIRROR] }));
    expect((await doctor()).stdout).toMatch(/the file wins at the next reload or restart \(fix: reload dockerd/);
    await dockerd.reload();
    expect((await doctor()).stdout).toMatch(/^ok {3}dockerd mirrors: docker info shows/m);
  });

  // dockerd 28 on the containerd store: such a file replaces registry-mirrors entirely, so the
  // engine never asks our mirror while daemon.json and docker info both name it (issue 16).
  it("dockerd's certs.d/docker.io/hosts.toml naming another mirror fails and names the file, though daemon.json and docker info agree", async () => {
    const hostsToml = join(dockerd.certsDir, 'docker.io', 'hosts.toml');
    await mkdir(join(hostsToml, '..'), { recursive: true });
    await writeFile(
      hostsToml,
      'server = "https://registry-1.docker.io"\n\n[host."https://other-mirror.example"]\n  capabilities = ["pull", "resolve"]\n',
    );
    try {
      const result = await doctor();
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toMatch(/^ok {3}dockerd mirrors: docker info shows/m);
      expect(result.stdout).toContain(
        `fail docker certs.d hosts.toml: ${hostsToml} does not name ${MIRROR}: on the containerd image store it replaces registry-mirrors, so Docker Hub pulls go to https://other-mirror.example`,
      );
      // What the engine then does: the containerd store asks the file's host and never the
      // mirror of daemon.json; the classic store ignores the file and asks the mirror.
      const since = (await readFile(dockerd.logPath, 'utf8')).length;
      await engineImagePull(dockerd, 'python', '3.14');
      const log = (await readFile(dockerd.logPath, 'utf8')).slice(since);
      if (engine.containerdStore) {
        expect(log, log).toContain('other-mirror.example');
        expect(log, log).not.toContain(MIRROR.slice('http://'.length));
      } else {
        expect(log, log).toContain(MIRROR.slice('http://'.length));
        expect(log, log).not.toContain('other-mirror.example');
      }
    } finally {
      await rm(join(dockerd.certsDir, 'docker.io'), { recursive: true, force: true });
    }
  });
});
