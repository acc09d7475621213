import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fakeHost, type FakeHost } from '../../../helpers/setup-fixture.ts';

const MIRROR = 'http://127.0.0.1:5999';
const HUB = 'https://index.docker.io/v1/';

// configure edits the bytes of the members it owns and nothing else; unconfigure gives back
// the file byte for byte. PATH holds no docker or dockerd: nothing checks these files but us.
describe('configure keeps every byte it does not own', () => {
  let host: FakeHost;
  beforeEach(async () => {
    host = await fakeHost();
  });
  afterEach(() => host.cleanup());

  const run = (args: string[]) => host.run(args, { PATH: join(host.root, 'no-bin') });
  const configure = () => run(['configure', ...host.pathArgs, '--engines', 'docker', '--mirror', MIRROR]);
  const unconfigure = () => run(['unconfigure', '--state-dir', host.stateDir, '--no-reload']);
  const configJson = () => join(host.dockerConfig, 'config.json');
  async function put(path: string, text: string): Promise<void> {
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, text);
  }

  it('{"x": 1e400, "y": 12345678901234567890} in daemon.json and config.json', async () => {
    const original = '{"x": 1e400, "y": 12345678901234567890}';
    await put(host.daemonJson, original);
    await put(configJson(), original);
    const start = await host.snapshot();

    const done = await configure();
    expect(done.exitCode, done.stderr).toBe(0);
    expect(await readFile(host.daemonJson, 'utf8')).toBe(
      `{"x": 1e400, "y": 12345678901234567890, "registry-mirrors": ["${MIRROR}"]}`,
    );
    expect(await readFile(configJson(), 'utf8')).toBe(
      `{"x": 1e400, "y": 12345678901234567890, "credHelpers": {"${HUB}": "dstack", "127.0.0.1:5999": "dstack"}}`,
    );

    const undone = await unconfigure();
    expect(undone.exitCode, undone.stderr).toBe(0);
    expect(await host.snapshot()).toEqual(start);
  });

  it('a BOM, CRLF line endings and a duplicate key, and an edit made since configure', async () => {
    const daemon = '\uFEFF{\r\n  "log-level": "info",\r\n  "x": 1e400,\r\n  "x": 2\r\n}\r\n';
    const config =
      '\uFEFF{\r\n\t"auths": {"r.example": {"auth": "dTpw"}},\r\n\t"y": 12345678901234567890,\r\n\t"y": 3\r\n}\r\n';
    await put(host.daemonJson, daemon);
    await put(configJson(), config);
    const start = await host.snapshot();

    expect((await configure()).exitCode).toBe(0);
    expect(await readFile(host.daemonJson, 'utf8')).toBe(
      `\uFEFF{\r\n  "log-level": "info",\r\n  "x": 1e400,\r\n  "x": 2,\r\n  "registry-mirrors": [\r\n    "${MIRROR}"\r\n  ]\r\n}\r\n`,
    );
    expect(await readFile(configJson(), 'utf8')).toBe(
      `\uFEFF{\r\n\t"auths": {"r.example": {"auth": "dTpw"}},\r\n\t"y": 12345678901234567890,\r\n\t"y": 3,\r\n\t"credHelpers": {\r\n\t\t"${HUB}": "dstack",\r\n\t\t"127.0.0.1:5999": "dstack"\r\n\t}\r\n}\r\n`,
    );
    expect((await unconfigure()).exitCode).toBe(0);
    expect(await host.snapshot()).toEqual(start);

    // Changed by someone since configure: unconfigure takes out only our members, their edit stays.
    expect((await configure()).exitCode).toBe(0);
    const edited = (await readFile(host.daemonJson, 'utf8')).replace('"log-level": "info"', '"log-level": "debug"');
    await writeFile(host.daemonJson, edited);
    expect((await unconfigure()).exitCode).toBe(0);
    expect(await readFile(host.daemonJson, 'utf8')).toBe(daemon.replace('"log-level": "info"', '"log-level": "debug"'));
    expect(await readFile(configJson(), 'utf8')).toBe(config);
  });

  it('refuses, in one line and before writing anything, a file with registry-mirrors twice', async () => {
    await put(host.daemonJson, '{"registry-mirrors": [], "registry-mirrors": ["https://a.example"]}');
    const start = await host.snapshot();
    const refused = await configure();
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toBe(
      `docker-credential-dstack configure: ${host.daemonJson} has "registry-mirrors" 2 times; keep one by hand, nothing was changed`,
    );
    expect(await host.snapshot()).toEqual(start);
  });

  it('refuses a file that is not UTF-8 (it could not be written back byte for byte)', async () => {
    await put(host.daemonJson, '');
    await writeFile(host.daemonJson, Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]));
    const refused = await configure();
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toBe(
      `docker-credential-dstack configure: Docker daemon config ${host.daemonJson} is not UTF-8 text; fix or move it, nothing was changed`,
    );
    expect(await readFile(host.daemonJson)).toEqual(
      Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
    );
  });
});
