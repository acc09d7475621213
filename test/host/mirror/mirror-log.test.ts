import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createMirrorLog } from '../../../src/host/mirror/server/mirror-log.ts';

// The endpoint's log file: a regular file gets every line; a FIFO (with or without a reader)
// is refused at once with one line on stderr, and the endpoint goes on logging to stderr.
const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'mirror-log-'));
  dirs.push(dir);
  const stderr = new PassThrough();
  const lines: string[] = [];
  stderr.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
  return { dir, stderr, lines };
}

describe('the mirror log file', () => {
  it('a regular file gets every line with time and pid, created 0600', async () => {
    const { dir, stderr } = setup();
    const path = join(dir, 'mirror.log');
    const log = createMirrorLog({ stderr, logFile: path, debug: false, pid: 42 });
    log.info('pull status=200');
    log.debug('quiet on stderr');
    await log.close();
    expect(readFileSync(path, 'utf8')).toMatch(
      /^\S+Z docker-credential-dstack\[42\] info: mirror: pull status=200\n\S+Z docker-credential-dstack\[42\] debug: mirror: quiet on stderr\n$/,
    );
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it.each([false, true])(
    'a FIFO (reader open: %s) is refused at once with one line; stderr logging goes on',
    async (withReader) => {
      const { dir, stderr, lines } = setup();
      const path = join(dir, 'mirror.log');
      execFileSync('mkfifo', ['-m', '600', path]);
      const reader = withReader ? openSync(path, constants.O_RDONLY | constants.O_NONBLOCK) : undefined;
      try {
        const startedAt = performance.now();
        const log = createMirrorLog({ stderr, logFile: path, debug: false, pid: 42 });
        log.info('pull status=200');
        await log.close();
        expect(performance.now() - startedAt).toBeLessThan(1000);
        expect(lines).toEqual([
          expect.stringMatching(
            /^docker-credential-dstack mirror: warning: not writing the log file \S+mirror\.log: it is a FIFO.*, not a regular file; point DOCKER_CREDENTIAL_DSTACK_LOG_FILE at a regular file$/,
          ),
          'docker-credential-dstack mirror: pull status=200',
        ]);
      } finally {
        if (reader !== undefined) closeSync(reader);
      }
    },
  );
});
