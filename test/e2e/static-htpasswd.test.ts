import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticStack, type StaticStack } from './harness/static-stack.ts';
import { lineMatching } from './harness/log-match.ts';
import { docker, inspectImage, describeResult } from './harness/docker-cli.ts';

// Scenario 3: the static source. The htpasswd registry (bcrypt) is pulled with the configured
// username/password, and that password appears in no log and nowhere in the engine's view.
describe('e2e: static source with an htpasswd registry', () => {
  let stack: StaticStack;
  const outputs: string[] = [];
  beforeAll(async () => {
    stack = await startStaticStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const FAILED_LOGIN = /authentication failure/;

  it('pulls the rewritten reference and the unqualified image with the configured account', async () => {
    const registry = stack.registry.process;
    const ref = `${registry.host}/app:1`;
    const pull = await docker(stack.dockerd, stack.host, ['pull', ref]);
    outputs.push(String(pull.stdout), String(pull.stderr));
    expect(pull.exitCode, describeResult(pull)).toBe(0);
    expect(await inspectImage(stack.dockerd, stack.host, ref)).toEqual({
      id: stack.registry.images.get('app:1')!.configDigest,
      seed: 'app:1',
    });

    const mirrored = await docker(stack.dockerd, stack.host, ['pull', 'python:3.14']);
    outputs.push(String(mirrored.stdout), String(mirrored.stderr));
    expect(mirrored.exitCode, describeResult(mirrored)).toBe(0);
    expect((await inspectImage(stack.dockerd, stack.host, 'python:3.14'))?.seed).toBe('library/python:3.14');

    // The registry authenticated our account (its own htpasswd check), for both paths.
    const registryLog = await registry.log();
    const user = stack.registry.account!.username;
    expect(
      lineMatching(
        registryLog,
        new RegExp(`msg=GetImageManifest auth\\.user\\.name="?${user}"? .*uri=/v2/app/manifests/1`),
      ),
      'app:1 with our account',
    ).toBeDefined();
    expect(
      lineMatching(
        registryLog,
        new RegExp(`msg=GetImageManifest auth\\.user\\.name="?${user}"? .*uri=/v2/library/python/manifests/3\\.14`),
      ),
      'mirror path with our account',
    ).toBeDefined();
    expect(lineMatching(registryLog, FAILED_LOGIN), 'no failed login').toBeUndefined();
    // The registry does log a failed login in that format: a wrong password, sent by hand.
    const wrong = await fetch(`${registry.url}/v2/`, {
      headers: { authorization: `Basic ${Buffer.from(`${user}:not-the-password`).toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
    expect(
      lineMatching((await registry.log()).slice(registryLog.length), FAILED_LOGIN),
      'a failed login is logged',
    ).toBeDefined();

    const audit = await stack.service.audit();
    const issued = audit.filter((r) => r.event === 'credential' && r.outcome === 'granted');
    expect(issued.length).toBeGreaterThanOrEqual(1);
    expect(
      issued.every((r) => r.source === 'static' && r.instance === stack.instance),
      JSON.stringify(issued),
    ).toBe(true);
  });

  it('the password is in no log, no audit line, no client output and not in the engine', async () => {
    const { password, basic } = stack.registry.account!;
    const base64 = basic.slice('Basic '.length);
    const places: Record<string, string> = {
      'service stderr': await stack.service.stderr(),
      'audit log': await readFile(stack.service.auditLogPath, 'utf8'),
      'helper debug log': await stack.host.debugLog(),
      'dockerd log': await readFile(stack.dockerd.logPath, 'utf8'),
      'registry log': await stack.registry.process.log(),
      'docker CLI output': outputs.join('\n'),
      'docker client config': await readFile(stack.paths.dockerConfigJson, 'utf8'),
      'daemon.json': await readFile(stack.paths.daemonJson, 'utf8'),
    };
    for (const image of [`${stack.registry.process.host}/app:1`, 'python:3.14']) {
      places[`docker image inspect ${image}`] = String(
        (await docker(stack.dockerd, stack.host, ['image', 'inspect', image])).stdout,
      );
    }
    places['docker info'] = String(
      (await docker(stack.dockerd, stack.host, ['info', '--format', '{{json .}}'])).stdout,
    );
    // The engine's own state on disk (image metadata, repositories.json): nothing of the password.
    places['engine image metadata'] = await readTree(join(stack.dir, 'd', 'data', 'image'));
    for (const [where, text] of Object.entries(places)) {
      expect(text.length, `${where} was read`).toBeGreaterThan(0);
      expect(text.includes(password), `password found in ${where}`).toBe(false);
      expect(text.includes(base64), `base64 user:password found in ${where}`).toBe(false);
    }
  });
});

async function readTree(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) parts.push(await readFile(join(entry.parentPath, entry.name), 'utf8'));
  }
  return parts.join('\n');
}
