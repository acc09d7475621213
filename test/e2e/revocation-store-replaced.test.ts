import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rename, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { serviceCommand } from '../helpers/ensure-packages.ts';
import { startService, type Service } from '../helpers/built-service.ts';
import { sleep } from '../helpers/reaper.ts';

// Issue 18, item 3: the embedded revocation store deleted, or replaced by another file, under
// a running `dstack-registry-auth serve` (the built binary). The service must not go on
// answering from the file it still has open (that is failing open: it would never see what
// `revoke` writes to the path); it refuses with 503 and one line naming the replaced store
// and the remedy, `revoke` refuses with one line where it can tell, and after the restart no
// revocation is lost: neither those made before the replacement nor those made after it.
const REGISTRY = 'registry.test:5000';
const dirs: string[] = [];
const services: Service[] = [];
afterEach(async () => {
  while (services.length) await services.pop()!.stop();
  while (dirs.length) await rm(dirs.pop()!, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'store-replaced-'));
  dirs.push(dir);
  return dir;
}

async function serve(dir: string): Promise<Service> {
  const service = await startService({
    dir,
    env: {
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: REGISTRY,
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'puller',
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: 'pull-password-1',
    },
  });
  services.push(service);
  return service;
}

async function restart(service: Service, dir: string): Promise<Service> {
  await service.stop();
  services.splice(services.indexOf(service), 1);
  return serve(dir);
}

async function credentialStatus(service: Service, token: string): Promise<number> {
  const answer = await fetch(`${service.url}/v1/credentials`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ registry: REGISTRY }),
  });
  await answer.arrayBuffer();
  return answer.status;
}

// `revoke` as the operator runs it, exit code and stderr kept.
async function revoke(
  env: Record<string, string>,
  dataDir: string,
  instance: string,
): Promise<{ exitCode: number; stderr: string }> {
  const [file, ...prefix] = serviceCommand();
  const result = await execa(file, [...prefix, 'revoke', '--instance', instance, '--data-dir', dataDir], {
    env,
    extendEnv: false,
    reject: false,
  });
  return { exitCode: result.exitCode ?? -1, stderr: String(result.stderr) };
}

async function stderrMatching(service: Service, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const text = await service.stderr();
    if (pattern.test(text) || Date.now() > deadline) return text;
    await sleep(30);
  }
}

const lines = (text: string, pattern: RegExp): string[] => text.split('\n').filter((line) => pattern.test(line));

describe('e2e: the revocation store replaced under a running service', () => {
  it('deleted: revoke refuses while the service holds the old file; the service answers 503 naming it; after a restart every revocation holds', async () => {
    const dir = await tempDir();
    let service = await serve(dir);
    const store = join(service.dataDir, 'revocations.sqlite');
    const [a, b, c] = [
      await service.issueToken({ instance: 'i-a' }),
      await service.issueToken({ instance: 'i-b' }),
      await service.issueToken({ instance: 'i-c' }),
    ];
    await service.revoke('i-a');
    expect(await credentialStatus(service, a)).toBe(401);
    expect(await credentialStatus(service, c)).toBe(200);

    await unlink(store); // the -wal and -shm stay, as after an `rm revocations.sqlite`

    // Before the service has noticed: revoke would start a new file the service never reads.
    const early = await revoke(service.env, service.dataDir, 'i-b');
    expect(early.exitCode).not.toBe(0);
    expect(early.stderr.trim().split('\n')).toHaveLength(1);
    expect(early.stderr).toContain(
      `dstack-registry-auth revoke: revocation store ${store} is missing but ${store}-wal is still there: it was deleted while a service had it open`,
    );
    expect(early.stderr).toContain('restart the service (it keeps the revocations it held), then run revoke again');

    // The service fails closed, and says why in one line.
    expect(await credentialStatus(service, c)).toBe(503);
    expect(await credentialStatus(service, b)).toBe(503);
    const log = await stderrMatching(service, /was deleted while this process had it open/);
    const cause = lines(log, /revocation store .* was deleted while this process had it open/);
    expect(cause.length).toBeGreaterThanOrEqual(1);
    expect(cause[0]).toMatch(
      new RegExp(
        `^dstack-registry-auth: unavailable: revocation store ${store} was deleted while this process had it open, so it cannot see revocations written to the path: credentials and tokens are refused until the service restarts and reads the file now at ${store}; restart it; the revocations it held are kept in ${store}\\.held-\\d+-\\d+ and merged in at the next start$`,
      ),
    );

    // Having noticed, the service set the old file's -wal and -shm aside: revoke starts the new
    // file, and merges in what the service held.
    const late = await revoke(service.env, service.dataDir, 'i-b');
    expect(late.exitCode, late.stderr).toBe(0);
    expect(late.stderr).toMatch(
      new RegExp(
        `^dstack-registry-auth revoke: revocation store ${store}: merged 1 revocations from ${store}\\.held-\\d+-\\d+, kept by a service whose store file was replaced, and removed it$`,
      ),
    );
    expect(await credentialStatus(service, c)).toBe(503); // still closed until the restart

    service = await restart(service, dir);
    expect(await credentialStatus(service, a)).toBe(401); // revoked before the deletion: kept
    expect(await credentialStatus(service, b)).toBe(401); // revoked after it
    expect(await credentialStatus(service, c)).toBe(200);
    expect(readdirSync(service.dataDir).filter((name) => name.includes('.held-'))).toEqual([]);
  });

  it('replaced by mv of another file: 503 naming both inodes, revoke refuses the foreign file, the restart adopts it and keeps what the old one held', async () => {
    const dir = await tempDir();
    let service = await serve(dir);
    const store = join(service.dataDir, 'revocations.sqlite');
    const [a, c, d, e] = [
      await service.issueToken({ instance: 'i-a' }),
      await service.issueToken({ instance: 'i-c' }),
      await service.issueToken({ instance: 'i-d' }),
      await service.issueToken({ instance: 'i-e' }),
    ];
    await service.revoke('i-a');
    // Another data directory's store (a backup from elsewhere), holding a revocation of its own.
    const other = join(await tempDir(), 'data');
    expect((await revoke(service.env, other, 'i-d')).exitCode).toBe(0);
    expect(await credentialStatus(service, d)).toBe(200);

    await rename(join(other, 'revocations.sqlite'), store);

    const refused = await revoke(service.env, service.dataDir, 'i-e');
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(
      new RegExp(
        `^dstack-registry-auth revoke: revocation store ${store} is not the file that was created there \\(it was created as inode \\d+ at ${join(other, 'revocations.sqlite')}; this is inode \\d+ at ${store}\\): it was copied, moved or restored into place, and a running service may still read the old file, so a revocation written here might never reach it; restart the service \\(it adopts this file and keeps what it held\\), then run revoke again$`,
      ),
    );

    expect(await credentialStatus(service, c)).toBe(503);
    const log = await stderrMatching(service, /was replaced by another file/);
    expect(lines(log, /was replaced by another file/)[0]).toMatch(
      new RegExp(
        `^dstack-registry-auth: unavailable: revocation store ${store} was replaced by another file \\(it opened inode \\d+; the path now names inode \\d+\\) while this process had it open, .*; restart it; the revocations it held are kept in ${store}\\.held-\\d+-\\d+ and merged in at the next start$`,
      ),
    );

    service = await restart(service, dir);
    const started = await stderrMatching(service, /merged 1 revocations/);
    expect(started).toMatch(
      new RegExp(
        `warning: revocation store ${store} was copied, moved or restored into place \\(created as inode \\d+ at ${join(other, 'revocations.sqlite')}; this is inode \\d+ at ${store}\\): adopting it`,
      ),
    );
    expect(started).toMatch(/merged 1 revocations from \S+\.held-\d+-\d+/);
    expect(await credentialStatus(service, a)).toBe(401); // held by the replaced file: merged in
    expect(await credentialStatus(service, d)).toBe(401); // the new file's own
    expect(await credentialStatus(service, c)).toBe(200);
    const now = await revoke(service.env, service.dataDir, 'i-e');
    expect(now.exitCode, now.stderr).toBe(0);
    expect(await credentialStatus(service, e)).toBe(401);
    expect(existsSync(join(other, 'revocations.sqlite'))).toBe(false);
  });
});
