import { makeCertificate } from '../../helpers/tls-fixtures.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { SERVICE_BINARY, assertServiceBinaryBuilt, startServiceBinary } from '../../helpers/service-process.ts';

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
  execa(SERVICE_BINARY, args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  });

async function credential(url: string, token: string) {
  const res = await fetch(`${url}/v1/credentials`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ registry: 'https://index.docker.io/v1/' }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

describe('dstack-registry-auth binary: serve, issue-token, revoke', () => {
  it('serves credentials to a token from issue-token, and revoke cuts it off in the running service', async () => {
    const dataDir = join(dir, 'data');
    const service = await startServiceBinary(['--listen', '127.0.0.1:0', '--data-dir', dataDir], ENV);
    try {
      expect(service.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(
        service
          .stderr()
          .split('\n')
          .filter((line) => line.startsWith('dstack-registry-auth listening on')),
      ).toHaveLength(1);
      const issued = await run([
        'issue-token',
        '--instance',
        'i-bin',
        '--project',
        'main',
        '--ttl',
        '1h',
        '--data-dir',
        dataDir,
      ]);
      expect(issued.exitCode, String(issued.stderr)).toBe(0);
      const token = String(issued.stdout);
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(((await stat(join(dataDir, 'keys', 'instance.pem'))).mode & 0o777).toString(8)).toBe('600');

      const granted = await credential(service.url, token);
      expect(granted).toEqual({
        status: 200,
        body: expect.objectContaining({ username: 'docker-user', secret: PASSWORD, source: 'static' }),
      });

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
    const lines = (await readFile(auditPath, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
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
    [
      ['serve', '--listen', '127.0.0.1:0'],
      { DSTACK_REGISTRY_AUTH_CREDENTIAL_TTL: 'soon' },
      'DSTACK_REGISTRY_AUTH_CREDENTIAL_TTL',
    ],
    [
      ['serve', '--listen', '127.0.0.1:0'],
      { DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: '' },
      'DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME',
    ],
    [['issue-token'], {}, '--instance'],
    [['issue-token', '--instance', 'i 1'], {}, 'instance'],
    [['revoke'], {}, '--instance'],
  ])('%j with %j exits 2 naming %s, without a stack or the password', async (args, extra, name) => {
    const result = await run(
      [...args, ...(args[0] === 'serve' || args.includes('--instance') ? ['--data-dir', join(dir, 'bad')] : [])],
      { ...ENV, ...extra },
    );
    expect(result.exitCode).toBe(2);
    const stderr = String(result.stderr);
    expect(stderr).toContain(name);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stderr).not.toContain(PASSWORD);
  });
});

describe('dstack-registry-auth binary: start-up refusals from the review (one line, exit 2)', () => {
  const oneLineFailure = (result: { exitCode?: number; stderr: unknown; stdout: unknown }) => {
    expect(result.exitCode, String(result.stderr)).toBe(2);
    const lines = String(result.stderr).trim().split('\n');
    expect(lines, String(result.stderr)).toHaveLength(1);
    expect(String(result.stdout)).toBe('');
    return lines[0]!;
  };

  it('warns about a misspelt setting by name and still starts', async () => {
    const service = await startServiceBinary(['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'misspelt')], {
      ...ENV,
      DSTACK_REGISTRY_AUTH_DEFAULT_SOURCES: 'issuer',
    });
    try {
      expect(service.stderr()).toContain(
        'warning: DSTACK_REGISTRY_AUTH_DEFAULT_SOURCES is not a setting of this service and is ignored',
      );
    } finally {
      expect(await service.stop()).toBe(0);
    }
  });

  it('refuses two issuer registries sharing a token service', async () => {
    const configPath = join(dir, 'shared-service.json');
    await writeFile(
      configPath,
      JSON.stringify({
        registries: [
          { registry: 'a.example', source: 'issuer', service: 'shared', projects: ['A'] },
          { registry: 'b.example', source: 'issuer', service: 'shared', projects: ['B'] },
        ],
      }),
    );
    const line = oneLineFailure(
      await run(['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'dup')], {
        ...ENV,
        DSTACK_REGISTRY_AUTH_CONFIG: configPath,
      }),
    );
    expect(line).toContain('registries[1].service');
    expect(line).toContain('a.example');
    expect(line).toContain('b.example');
  });

  it('refuses a garbage TLS certificate and a mismatched pair, naming the settings', async () => {
    const tls = join(dir, 'tls');
    await mkdir(tls, { recursive: true });
    for (const name of ['a', 'b']) await makeCertificate(tls, { name });
    await writeFile(join(tls, 'garbage.pem'), 'not a certificate\n');
    const serve = (cert: string, key: string) =>
      run(['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'tls-data')], {
        ...ENV,
        DSTACK_REGISTRY_AUTH_TLS_CERT: join(tls, cert),
        DSTACK_REGISTRY_AUTH_TLS_KEY: join(tls, key),
      });
    const garbage = oneLineFailure(await serve('garbage.pem', 'a-key.pem'));
    expect(garbage).toContain('DSTACK_REGISTRY_AUTH_TLS_CERT');
    expect(garbage).not.toMatch(/routines|error:0/);
    const mismatch = oneLineFailure(await serve('a.pem', 'b-key.pem'));
    expect(mismatch).toContain('DSTACK_REGISTRY_AUTH_TLS_CERT');
    expect(mismatch).toContain('DSTACK_REGISTRY_AUTH_TLS_KEY');
    expect(mismatch).not.toMatch(/routines|error:0/);
  });

  it('refuses an absurd --ttl naming it and the cap', async () => {
    const line = oneLineFailure(
      await run(['issue-token', '--instance', 'i-long', '--ttl', '999999999d', '--data-dir', join(dir, 'ttl')]),
    );
    expect(line).toContain('--ttl');
    expect(line).toContain('365d');
    expect(line).not.toContain('setExpirationTime');
  });

  it.runIf(existsSync('/proc/self'))(
    'fails at once on a data directory that cannot be created (/proc/nope), naming --data-dir',
    async () => {
      for (const args of [
        ['serve', '--listen', '127.0.0.1:0'],
        ['issue-token', '--instance', 'i-1'],
        ['revoke', '--instance', 'i-1'],
        ['registry-config', '--registry', 'docker.mycompany.example'],
      ]) {
        const result = await execa(SERVICE_BINARY, [...args, '--data-dir', '/proc/nope'], {
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...ENV, DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'issuer' },
          extendEnv: false,
          reject: false,
          stdin: 'ignore',
          timeout: 10_000,
        });
        expect(result.timedOut, args.join(' ')).toBe(false);
        const line = oneLineFailure(result);
        expect(line, args.join(' ')).toContain('--data-dir');
        expect(line, args.join(' ')).toContain('/proc/nope');
      }
    },
    60_000,
  );
});
