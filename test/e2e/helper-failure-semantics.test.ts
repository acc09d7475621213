import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticStack, type StaticStack } from './harness/static-stack.ts';
import { docker, describeResult, inspectImage, QUIET } from './harness/docker-cli.ts';
import { runPodman } from './harness/podman.ts';

// Which clients stop and which go on when the helper fails (docs/helper.md, "Failure policy"):
// the service is down, nothing is cached, the policy is `fail`, and the image is on an open
// registry the helper is named for, so a client that ignores the helper's failure pulls
// anonymously and succeeds, and one that honours it fails with the helper's reason.
describe('e2e: what each client does when the helper fails', () => {
  let stack: StaticStack;
  let ref: string;
  let helperLine: string;
  beforeAll(async () => {
    stack = await startStaticStack({ extraRegistries: [{ name: 'open', auth: 'open' }] });
    ref = `${stack.extra.get('open')!.process.host}/app:1`;
    await stack.service.stop();
    await stack.host.eraseCache();
    const direct = await stack.host.run(['get'], { input: `${stack.extra.get('open')!.process.host}\n` });
    expect(direct.exitCode, describeResult(direct)).toBe(1);
    helperLine = String(direct.stdout).trim();
    expect(helperLine).toMatch(/^cannot reach dstack server .* \(ECONNREFUSED\)/);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('docker CLI 28 `pull` goes on anonymously: the helper error is discarded, its stderr warning shows', async () => {
    const pull = await docker(stack.dockerd, stack.host, ['pull', ref], QUIET);
    expect(pull.exitCode, describeResult(pull)).toBe(0);
    expect(String(pull.stderr)).toContain(`docker-credential-dstack: warning: ${helperLine}`);
    expect((await inspectImage(stack.dockerd, stack.host, ref))?.seed).toBe('app:1');
    await docker(stack.dockerd, stack.host, ['image', 'rm', ref]);
  });

  it('docker CLI 28 `create` (as `run`) stops with the helper line', async () => {
    const create = await docker(stack.dockerd, stack.host, ['create', ref, 'true'], QUIET);
    expect(create.exitCode, describeResult(create)).not.toBe(0);
    expect(String(create.stderr)).toContain(helperLine);
    expect(await inspectImage(stack.dockerd, stack.host, ref)).toBeUndefined();
  });

  it('docker-compose 1.29 `pull` stops; after its Python traceback the last line is the helper line', async () => {
    const project = join(stack.dir, 'compose');
    await mkdir(project, { recursive: true });
    await writeFile(join(project, 'docker-compose.yml'), `version: "3"\nservices:\n  app:\n    image: ${ref}\n`);
    const pull = await execa('docker-compose', ['pull'], {
      cwd: project,
      env: { ...stack.host.env, ...QUIET, DOCKER_HOST: stack.dockerd.host },
      extendEnv: false,
      reject: false,
      timeout: 120_000,
    });
    expect(pull.exitCode, describeResult(pull)).not.toBe(0);
    const lines = String(pull.stderr).trim().split('\n');
    expect(String(pull.stderr)).toContain('Traceback (most recent call last)');
    expect(lines.at(-1)).toBe(
      `docker.errors.DockerException: Credentials store error: StoreError('Credentials store docker-credential-dstack exited with "${helperLine}".')`,
    );
  });

  it('skopeo stops with the helper line', async () => {
    const inspect = await execa(
      'skopeo',
      ['inspect', '--authfile', stack.paths.dockerConfigJson, '--tls-verify=false', `docker://${ref}`],
      { env: stack.host.env, extendEnv: false, reject: false, timeout: 60_000 },
    );
    expect(inspect.exitCode, describeResult(inspect)).not.toBe(0);
    expect(String(inspect.stderr)).toContain(helperLine);
  });

  it('podman 4.3 stops with the helper line (containers/image returns a helper error)', async () => {
    const root = join(stack.dir, 'podman');
    const pull = await runPodman({ dir: root, env: stack.host.env }, ['pull', '--tls-verify=false', ref]);
    expect(pull.exitCode, describeResult(pull)).not.toBe(0);
    expect(String(pull.stderr)).toContain(`error getting credentials - err: exit status 1, out: \`${helperLine}\``);
  });
});
