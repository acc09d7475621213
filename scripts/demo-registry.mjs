// The real CNCF registry for `npm run demo`'s last step (Debian's docker-registry): started on
// a loopback port, seeded with one tiny image (by test/helpers/seed-image.ts, the tests' own),
// restarted with the `auth: token` section `dstack-registry-auth registry-config` prints.
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

// docker-registry on PATH (Debian installs it as /usr/bin/docker-registry).
export function findDockerRegistry() {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, 'docker-registry'), constants.X_OK);
      return join(dir, 'docker-registry');
    } catch {
      // next
    }
  }
  return undefined;
}

// `docker-registry serve` on 127.0.0.1:PORT (0: it picks one), storage and log under `dir`.
export async function startDockerRegistry(binary, dir, { port = 0, authYaml } = {}) {
  await mkdir(dir, { recursive: true });
  const logPath = join(dir, `registry-${Date.now()}.log`);
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'storage')}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: demo-not-a-secret',
  ];
  if (authYaml)
    lines.push(
      ...authYaml
        .trimEnd()
        .split('\n')
        .filter((l) => !l.trim().startsWith('#')),
    );
  await writeFile(join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const fd = openSync(logPath, 'a');
  const child = spawn(binary, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve(undefined);
      child.once('exit', () => resolve(undefined));
      child.kill('SIGTERM');
    });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const log = await readFile(logPath, 'utf8').catch(() => '');
    const match = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
    if (match)
      return {
        url: `http://127.0.0.1:${match[1]}`,
        host: `127.0.0.1:${match[1]}`,
        port: Number(match[1]),
        stop,
        log: () => readFile(logPath, 'utf8'),
      };
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not start:\n${log.split('\n').slice(-10).join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}
