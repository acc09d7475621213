import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBinaryBuilt, contractServerPerTest, HELPER_BINARY, runHelper } from '../../helpers/helper-binary.ts';

// Text the helper did not write (a server's error message, stdin, an argument) reaches stdout,
// stderr and the log only as one printable, bounded line: no terminal escapes, no forged lines.
const HUB = 'https://index.docker.io/v1/';
// biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for control characters
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
const setUp = contractServerPerTest({ [HUB]: { username: 'hub-user', secret: 'hub-secret', ttlMs: 600_000 } });

beforeAll(() => assertBinaryBuilt());

function expectOnePrintableLine(text: string): void {
  expect(text.endsWith('\n')).toBe(true);
  expect(text.slice(0, -1)).not.toMatch(CONTROL);
  expect(text.slice(0, -1)).not.toContain('\n');
}

describe('docker-credential-dstack binary: foreign text is printed printable and bounded', () => {
  it("a server's error message with terminal escapes and a forged log line", async () => {
    const { server, home } = await setUp();
    server.fallback = {
      kind: 'error',
      status: 403,
      error: 'forbidden',
      message:
        '\x1b[2J\x1b[31mdenied\x1b[0m\n2026-01-01T00:00:00.000Z docker-credential-dstack[1] debug: cache hit for evil',
    };
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(
      `registry ${HUB} is not allowed for this instance's project by ${server.url}: denied 2026-01-01T00:00:00.000Z docker-credential-dstack[1] debug: cache hit for evil\n`,
    );
    expectOnePrintableLine(result.stdout);
    expect(result.stderr).not.toMatch(CONTROL);
    const log = await readFile(home.logFile, 'utf8');
    expect(log).not.toMatch(CONTROL);
    expect(log.split('\n').filter((line) => line.startsWith('2026-01-01'))).toEqual([]);
  });

  it("a server's endless error message is cut", async () => {
    const { server, home } = await setUp();
    server.fallback = { kind: 'error', status: 400, error: 'bad_request', message: 'y'.repeat(100_000) };
    const result = await runHelper('get', HUB, home.env(), home.cwd);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(
      /^dstack server \S+ rejected the request for https:\/\/index\.docker\.io\/v1\/ \(HTTP 400\): y+…\n$/,
    );
    expect(result.stdout.length).toBeLessThan(400);
  });

  it('binary stdin is not echoed back raw in the "invalid registry key" error', async () => {
    const { home } = await setUp();
    const input = Buffer.from([
      0x00, 0x1b, 0x5b, 0x32, 0x4a, 0x07, 0x66, 0x6f, 0x6f, 0x9b, 0xff, 0x0d, 0x62, 0x61, 0x72,
    ]);
    const result = await execa(HELPER_BINARY, ['get'], {
      input,
      env: home.env(),
      extendEnv: false,
      cwd: home.cwd,
      reject: false,
      stripFinalNewline: false,
      encoding: 'buffer',
    });
    const stdout = Buffer.from(result.stdout as Uint8Array).toString('latin1');
    expect(result.exitCode).toBe(1);
    expect(stdout).toMatch(/^invalid registry key "[^"]*": it is not host\[:port\]/);
    expectOnePrintableLine(stdout);
    expect(Buffer.from(result.stderr as Uint8Array).toString('latin1')).not.toMatch(CONTROL);
  });

  it('an unknown action with escapes in it', async () => {
    const { home } = await setUp();
    const result = await runHelper('get', HUB, home.env(), home.cwd, ['\x1b]0;owned\x07get\x1b[2J']);
    expect(result.exitCode).toBe(1);
    expectOnePrintableLine(result.stdout);
  });
});
