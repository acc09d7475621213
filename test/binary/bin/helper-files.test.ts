import { execFileSync } from 'node:child_process';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { lockFileName } from '../../../src/host/cache/entry-file-name.ts';
import {
  assertBinaryBuilt,
  contractServerPerTest,
  HELPER_BINARY,
  type HelperHome,
} from '../../helpers/helper-binary.ts';

// Files the helper opens that are not what they should be: a FIFO never hangs it, a directory
// or a link is named as such, an oversized token is refused before it is sent, and a lock
// that cannot be a live lock is broken at once instead of stalling every cache miss.
const HUB = 'https://index.docker.io/v1/';
const setUp = contractServerPerTest({ [HUB]: { username: 'hub-user', secret: 'hub-secret', ttlMs: 600_000 } });

beforeAll(() => assertBinaryBuilt());

// Killed after 15 s: the code as it was hangs forever on a FIFO (a sync read blocks the timers too).
async function get(home: HelperHome, extra: Record<string, string> = {}) {
  const result = await execa(HELPER_BINARY, ['get'], {
    input: HUB,
    env: home.env({ DOCKER_CREDENTIAL_DSTACK_TIMEOUT: '1s', ...extra }),
    extendEnv: false,
    cwd: home.cwd,
    reject: false,
    timeout: 15_000,
    stripFinalNewline: false,
  });
  return {
    exitCode: result.exitCode,
    timedOut: result.timedOut,
    stdout: String(result.stdout),
    stderr: String(result.stderr),
  };
}

function mkfifo(path: string): void {
  execFileSync('mkfifo', ['-m', '600', path]);
}

describe('docker-credential-dstack binary: the instance token file', () => {
  it('a FIFO: refused at once, naming it, whatever the time budget', async () => {
    const { server, home } = await setUp();
    const fifo = join(home.dir, 'token.fifo');
    mkfifo(fifo);
    const result = await get(home, {
      DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: fifo,
      DOCKER_CREDENTIAL_DSTACK_TIMEOUT: '10m',
    });
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(
      `instance token file ${fifo} is a FIFO, not a regular file: write the instance token from the dstack server into a regular file (mode 0600)\n`,
    );
    expect(server.credentialRequests()).toBe(0);
  });

  it('a directory: says so', async () => {
    const { server, home } = await setUp();
    const dir = join(home.dir, 'token.d');
    await mkdir(dir);
    const result = await get(home, { DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: dir });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(
      `instance token file ${dir} is a directory, not a regular file: point DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE ("tokenFile") at the token file itself\n`,
    );
    expect(server.credentialRequests()).toBe(0);
  });

  it('a 2 MB file: too large, named, and never sent', async () => {
    const { server, home } = await setUp();
    const big = join(home.dir, 'token.big');
    await writeFile(big, 'x'.repeat(2 * 1024 * 1024), { mode: 0o600 });
    const result = await get(home, { DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: big });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(
      `instance token file ${big} is larger than the 8 KiB an instance token can be (2 MiB): write only the instance token from the dstack server there\n`,
    );
    expect(server.credentialRequests()).toBe(0);
  });

  it('a symbolic link: not followed, named', async () => {
    const { server, home } = await setUp();
    const link = join(home.dir, 'token.link');
    await symlink(home.tokenFile, link);
    const result = await get(home, { DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE: link });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(
      `instance token file ${link} is a symbolic link, which the helper does not follow: point DOCKER_CREDENTIAL_DSTACK_TOKEN_FILE ("tokenFile") at the token file itself\n`,
    );
    expect(server.credentialRequests()).toBe(0);
  });
});

describe('docker-credential-dstack binary: other files it opens', () => {
  it('a FIFO as the config file: refused at once', async () => {
    const { home } = await setUp();
    const fifo = join(home.dir, 'config.fifo');
    mkfifo(fifo);
    const result = await get(home, { DOCKER_CREDENTIAL_DSTACK_CONFIG: fifo });
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(
      `config file ${fifo} is a FIFO, not a regular file: fix DOCKER_CREDENTIAL_DSTACK_CONFIG or the file\n`,
    );
  });

  it('a FIFO nobody reads as the log file: the pull goes on without the log', async () => {
    const { home } = await setUp();
    const fifo = join(home.dir, 'log.fifo');
    mkfifo(fifo);
    const result = await get(home, { DOCKER_CREDENTIAL_DSTACK_LOG_FILE: fifo });
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).Secret).toBe('hub-secret');
  });
});

describe('docker-credential-dstack binary: a lock file that cannot be a live lock is broken at once', () => {
  async function plantLock(home: HelperHome, plant: (lockPath: string) => Promise<void> | void): Promise<string> {
    await mkdir(home.cacheDir, { mode: 0o700 });
    const lockPath = join(home.cacheDir, lockFileName(HUB));
    await plant(lockPath);
    return lockPath;
  }

  it.each([
    ['a FIFO', (path: string) => mkfifo(path), 'is a FIFO'],
    ['a directory', (path: string) => mkdir(path), 'is a directory'],
    [
      'a dangling symbolic link',
      (path: string) => symlink('/nonexistent/dstack-lock-target', path),
      'is a symbolic link',
    ],
    [
      'a live pid with a time in the future',
      (path: string) => writeFile(path, `${process.pid} ${Date.now() + 3_600_000}\n`, { mode: 0o600 }),
      'names a time in the future',
    ],
  ])('%s', async (_, plant, reason) => {
    const { server, home } = await setUp();
    const lockPath = await plantLock(home, plant);
    const result = await get(home);
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).Secret).toBe('hub-secret');
    // Broken, not waited out: the code as it was waited the budget + 2 s, then said so.
    expect(result.stderr).toContain(
      `docker-credential-dstack: warning: broke a stale cache lock: lock ${lockPath} ${reason}`,
    );
    expect(result.stderr).not.toContain('waited');
    expect(server.credentialRequests()).toBe(1);
    // Nothing left behind: no lock, no moved-aside copy.
    expect((await readdir(home.cacheDir)).filter((name) => !name.endsWith('.json'))).toEqual([]);
  });
});
