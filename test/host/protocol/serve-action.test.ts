import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { serveAction, serverUrlFrom, parseStoreInput } from '../../../src/host/protocol/serve-action.ts';
import { streamIo } from '../../../src/host/protocol/protocol-io.ts';
import type { CredentialStore, Credentials } from '../../../src/host/protocol/credential-store.ts';
import { CREDENTIALS_NOT_FOUND, MISSING_SERVER_URL } from '../../../src/host/protocol/wire.ts';
import { Secret } from '../../../src/common/secret.ts';
import { CodedError } from '../../../src/common/errors.ts';

// An in-memory store, as docker-credential-helpers tests its protocol with byte buffers.
function memoryStore(): CredentialStore & { items: Map<string, Credentials>; erased: string[] } {
  const items = new Map<string, Credentials>();
  const erased: string[] = [];
  return {
    items,
    erased,
    async get(serverUrl) {
      if (serverUrl === 'boom.example')
        throw new CodedError(
          'unreachable',
          'cannot reach dstack server https://dstack.example (ECONNREFUSED)\nsecond line',
        );
      return items.get(serverUrl);
    },
    async store(credentials) {
      items.set(credentials.ServerURL, credentials);
    },
    async erase(serverUrl) {
      erased.push(serverUrl);
    },
    async list() {
      return Object.fromEntries([...items].map(([url, c]) => [url, c.Username]));
    },
  };
}

async function run(action: string, input: string, store: CredentialStore): Promise<{ code: number; out: string }> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const code = await serveAction(action, store, streamIo(Readable.from([Buffer.from(input)]), stdout), '1.2.3');
  return { code, out: Buffer.concat(chunks).toString() };
}

describe('serveAction', () => {
  it('get answers {"ServerURL","Username","Secret"} and a newline', async () => {
    const store = memoryStore();
    store.items.set('registry.example', { ServerURL: 'registry.example', Username: 'u', Secret: new Secret('s3') });
    expect(await run('get', 'registry.example\r\n', store)).toEqual({
      code: 0,
      out: '{"ServerURL":"registry.example","Username":"u","Secret":"s3"}\n',
    });
  });

  it('get of an unknown server prints the not-found line, exit 1', async () => {
    const result = await run('get', 'other.example', memoryStore());
    expect(result).toEqual({ code: 1, out: `${CREDENTIALS_NOT_FOUND}\n` });
  });

  it('empty get input is the missing-URL error', async () => {
    expect(await run('get', ' \r\n\t', memoryStore())).toEqual({ code: 1, out: `${MISSING_SERVER_URL}\n` });
  });

  it('a failure is one line on stdout, exit 1', async () => {
    const result = await run('get', 'boom.example', memoryStore());
    expect(result.code).toBe(1);
    expect(result.out).toBe('cannot reach dstack server https://dstack.example (ECONNREFUSED) second line\n');
  });

  it('store parses the JSON payload; bad JSON or no URL is refused', async () => {
    const store = memoryStore();
    expect((await run('store', '{"ServerURL":" r.example ","Username":"u","Secret":"p"}', store)).code).toBe(0);
    expect(store.items.get('r.example')?.Secret.reveal()).toBe('p');
    expect(await run('store', 'not json', store)).toMatchObject({
      code: 1,
      out: expect.stringMatching(/^invalid credentials JSON/),
    });
    expect(await run('store', '{"Username":"u"}', store)).toEqual({ code: 1, out: `${MISSING_SERVER_URL}\n` });
  });

  it('erase passes the trimmed URL; list prints the map; version prints the version', async () => {
    const store = memoryStore();
    expect(await run('erase', 'r.example\n', store)).toEqual({ code: 0, out: '' });
    expect(store.erased).toEqual(['r.example']);
    store.items.set('a', { ServerURL: 'a', Username: 'ua', Secret: new Secret('never-listed') });
    expect(await run('list', '', store)).toEqual({ code: 0, out: '{"a":"ua"}\n' });
    expect(await run('version', '', store)).toEqual({ code: 0, out: 'docker-credential-dstack 1.2.3\n' });
  });

  it('an unknown action is an error line', async () => {
    expect(await run('fetch', '', memoryStore())).toEqual({ code: 1, out: 'unknown credential action `fetch`\n' });
  });

  it('oversized input is refused', async () => {
    expect((await run('get', 'x'.repeat(70_000), memoryStore())).out).toMatch(/larger than 65536 bytes/);
  });
});

describe('input parsing', () => {
  it('serverUrlFrom trims white space including CRLF', () => {
    expect(serverUrlFrom('\r\n https://index.docker.io/v1/ \r\n')).toBe('https://index.docker.io/v1/');
    expect(() => serverUrlFrom('\r\n')).toThrow(MISSING_SERVER_URL);
  });

  it('parseStoreInput keeps the secret wrapped', () => {
    const parsed = parseStoreInput('{"ServerURL":"x","Username":"u","Secret":"pw"}');
    expect(JSON.stringify(parsed)).not.toContain('pw');
    expect(parsed.Secret.reveal()).toBe('pw');
  });
});
