import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { SERVICE_BINARY, assertServiceBinaryBuilt, startServiceBinary } from '../server/service-process.ts';

const PASSWORD = 'binary-test-password-9931';
const ENV = {
  DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'docker.mycompany.example',
  DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'docker-user',
  DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: PASSWORD,
};

let dir: string;
beforeAll(async () => {
  assertServiceBinaryBuilt();
  dir = await mkdtemp(join(tmpdir(), 'server-binary-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (args: string[], env: Record<string, string> = ENV) =>
  execa(SERVICE_BINARY, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, extendEnv: false, reject: false, stdin: 'ignore' });

async function credential(url: string, token: string) {
  const res = await fetch(`${url}/v1/credentials`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ registry: 'https://index.docker.io/v1/' }) });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

describe('dstack-registry-auth binary: serve, issue-token, revoke', () => {
  it('serves credentials to a token from issue-token, and revoke cuts it off in the running service', async () => {
    const dataDir = join(dir, 'data');
    const service = await startServiceBinary(['--listen', '127.0.0.1:0', '--data-dir', dataDir], ENV);
    try {
      expect(service.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(service.stderr().split('\n').filter((line) => line.startsWith('dstack-registry-auth listening on'))).toHaveLength(1);
      const issued = await run(['issue-token', '--instance', 'i-bin', '--project', 'main', '--ttl', '1h', '--data-dir', dataDir]);
      expect(issued.exitCode, String(issued.stderr)).toBe(0);
      const token = String(issued.stdout);
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(((await stat(join(dataDir, 'keys', 'instance.pem'))).mode & 0o777).toString(8)).toBe('600');

      const granted = await credential(service.url, token);
      expect(granted).toEqual({ status: 200, body: expect.objectContaining({ username: 'docker-user', secret: PASSWORD, source: 'static' }) });

      const revoked = await run(['revoke', '--instance', 'i-bin', '--data-dir', dataDir]);
      expect(revoked.exitCode, String(revoked.stderr)).toBe(0);
      expect(String(revoked.stdout)).toMatch(/^revoked instance i-bin at \d{4}-/);
      const after = await credential(service.url, token);
      expect(after).toEqual({ status: 401, body: expect.objectContaining({ error: 'token_revoked' }) });
    } finally {
      const code = await service.stop();
      expect(code).toBe(0);
    }
    const log = service.stderr();
    expect(log).toContain('"event":"credential"');
    expect(log).not.toContain(PASSWORD);
  });

  it('keeps its generated keys across restarts (a token survives one), and stops cleanly on SIGTERM and SIGINT', async () => {
    const dataDir = join(dir, 'restart');
    const issued = await run(['issue-token', '--instance', 'i-restart', '--data-dir', dataDir]);
    for (let round = 0; round < 2; round++) {
      const service = await startServiceBinary(['--listen', '127.0.0.1:0', '--data-dir', dataDir], ENV);
      try {
        expect((await credential(service.url, String(issued.stdout))).status).toBe(200);
      } finally {
        expect(await service.stop(round === 0 ? 'SIGTERM' : 'SIGINT')).toBe(0);
      }
    }
  });

  it('issue-token and revoke record themselves in the audit log file when one is configured', async () => {
    const dataDir = join(dir, 'audited');
    const auditPath = join(dir, 'audited-audit.log');
    const env = { ...ENV, DSTACK_REGISTRY_AUTH_AUDIT_LOG: auditPath };
    const issued = await run(['issue-token', '--instance', 'i-audit', '--project', 'ml', '--data-dir', dataDir], env);
    expect(issued.exitCode).toBe(0);
    expect(String(issued.stderr)).toBe('');
    expect((await run(['revoke', '--instance', 'i-audit', '--data-dir', dataDir], env)).exitCode).toBe(0);
    const lines = (await readFile(auditPath, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    expect(lines).toEqual([
      expect.objectContaining({ event: 'token_issued', outcome: 'granted', instance: 'i-audit', project: 'ml' }),
      expect.objectContaining({ event: 'revoked', outcome: 'granted', instance: 'i-audit' }),
    ]);
    expect(JSON.stringify(lines)).not.toContain(String(issued.stdout));
  });

  it.each([
    [['serve', '--listen', '0.0.0.0:0'], {}, '--plain-http'],
    [['serve', '--listen', 'nowhere'], {}, '--listen'],
    [['serve', '--bogus'], {}, 'usage'],
    [['serve', '--listen', '127.0.0.1:0'], { DSTACK_REGISTRY_AUTH_CREDENTIAL_TTL: 'soon' }, 'DSTACK_REGISTRY_AUTH_CREDENTIAL_TTL'],
    [['serve', '--listen', '127.0.0.1:0'], { DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: '' }, 'DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME'],
    [['issue-token'], {}, '--instance'],
    [['issue-token', '--instance', 'i 1'], {}, 'instance'],
    [['revoke'], {}, '--instance'],
  ])('%j with %j exits 2 naming %s, without a stack or the password', async (args, extra, name) => {
    const result = await run([...args, ...(args[0] === 'serve' || args.includes('--instance') ? ['--data-dir', join(dir, 'bad')] : [])], { ...ENV, ...extra });
    expect(result.exitCode).toBe(2);
    const stderr = String(result.stderr);
    expect(stderr).toContain(name);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stderr).not.toContain(PASSWORD);
  });
});
