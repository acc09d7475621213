import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';

export interface RunningPostgres {
  // postgres://postgres:<password>@127.0.0.1:<port>/postgres
  url: string;
  password: string;
  pid: number;
  stop(): Promise<void>;
}

// A throw-away PostgreSQL from Debian's package binaries: a temp data directory, password
// auth, listening on 127.0.0.1 only, on a port picked at run time, no unix socket.
// PostgreSQL refuses to run as root, so under root the files belong to the `postgres`
// system user and the processes run with its uid/gid.
export async function startPostgres(): Promise<RunningPostgres> {
  const bin = await findBinDir();
  const runAs = await postgresUser();
  const base = await mkdtemp(join(tmpdir(), 'pg-test-'));
  try {
    const password = randomBytes(12).toString('hex');
    const pwfile = join(base, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (runAs) {
      await chown(base, runAs.uid, runAs.gid);
      await chown(pwfile, runAs.uid, runAs.gid);
    }
    const dataDir = join(base, 'data');
    const asUser = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
    const env = { LC_ALL: 'C', LANG: 'C', PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: base };
    await execa(
      join(bin, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '--no-sync', '-E', 'UTF8'],
      { ...asUser, env, extendEnv: false, cwd: base },
    );
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      try {
        return await launch({ bin, dataDir, port, password, env, asUser, base });
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  } catch (error) {
    await rm(base, { recursive: true, force: true });
    throw error;
  }
}

async function launch(options: {
  bin: string;
  dataDir: string;
  port: number;
  password: string;
  env: Record<string, string>;
  asUser: { uid?: number; gid?: number };
  base: string;
}): Promise<RunningPostgres> {
  const args = [
    '-D',
    options.dataDir,
    '-p',
    String(options.port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
    '-c',
    'fsync=off',
    '-c',
    'max_connections=50',
  ];
  const child = spawn(join(options.bin, 'postgres'), args, {
    ...options.asUser,
    env: options.env,
    cwd: options.base,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const url = `postgres://postgres:${options.password}@127.0.0.1:${options.port}/postgres`;
  const stop = async () => {
    process.off('exit', killOnExit);
    await stopProcess(child, exited);
    await rm(options.base, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      process.off('exit', killOnExit);
      throw new Error(`postgres exited with status ${child.exitCode}: ${log.trim().split('\n').slice(-3).join(' | ')}`);
    }
    if (await canConnect(url)) return { url, password: options.password, pid: child.pid!, stop };
    if (Date.now() > deadline) {
      await stopProcess(child, exited);
      process.off('exit', killOnExit);
      throw new Error(
        `postgres did not accept connections within 30 s: ${log.trim().split('\n').slice(-3).join(' | ')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Fast shutdown (SIGINT) of exactly the process started here; SIGKILL if it lingers.
async function stopProcess(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function findBinDir(): Promise<string> {
  const root = '/usr/lib/postgresql';
  const versions = (await readdir(root).catch(() => [] as string[]))
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0)
    throw new Error(
      `no PostgreSQL under ${root}; install the Debian package postgresql (scripts/e2e/install-packages.sh)`,
    );
  return join(root, versions[0]!, 'bin');
}

async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (userInfo().uid !== 0) return undefined;
  const uid = Number((await execa('id', ['-u', 'postgres'])).stdout);
  const gid = Number((await execa('id', ['-g', 'postgres'])).stdout);
  return { uid, gid };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
