import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fakeHost, type FakeHost } from '../../../helpers/setup-fixture.ts';
import { doctorArgs } from '../../../helpers/doctor-fixture.ts';

const ENGINES = ['--engines', 'docker,containerd,podman'];

// configure/unconfigure/doctor --local-name (issue 15): the built binary on a fake host root.
// Only podman's drop-in gets a line (insecure = true for the name); daemon.json and
// containerd's certs.d are not touched; unconfigure puts every byte back.
describe('configure --local-name', () => {
  let host: FakeHost;
  let endpoint: Server | undefined;
  let name: string;
  beforeEach(async () => {
    host = await fakeHost();
    // A stand-in for the endpoint's /healthz at the name, so that doctor's endpoint line is ok.
    endpoint = createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end());
    await new Promise<void>((resolve) => endpoint!.listen(0, '127.0.0.1', resolve));
    name = `127.0.0.1:${(endpoint.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise((resolve) => endpoint?.close(resolve));
    await host.cleanup();
  });

  // A host with no server configured: --local-name alone needs none.
  const configure = async (...args: string[]) => {
    await put(join(host.root, 'empty-config.json'), '{}\n');
    return host.run(['configure', ...host.pathArgs, ...ENGINES, ...args], {
      DOCKER_CREDENTIAL_DSTACK_CONFIG: join(host.root, 'empty-config.json'),
    });
  };
  const dropIn = () => join(host.registriesConf, '90-docker-credential-dstack.conf');
  const doctor = () => host.run(['doctor', ...doctorArgs(host, 'containerd,podman'), '--local-name', name]);
  const localNameLines = (out: string) => out.split('\n').filter((l) => / local name/.test(l));

  it('writes insecure = true for the name in the podman drop-in and nothing for dockerd or containerd, without a server; unconfigure restores byte for byte', async () => {
    await put(host.daemonJson, '{\n  "debug": true\n}\n');
    await put(join(host.registriesConf, '50-theirs.conf'), '[[registry]]\nlocation = "quay.io"\n');
    await put(join(host.root, 'empty-config.json'), '{}\n');
    const start = await host.snapshot();

    const dry = await configure('--local-name', name, '--dry-run');
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      `configuring from command line: mirrors (none); helper for (none); local name ${name}; engines docker, containerd, podman`,
    );
    expect(dry.stdout).toContain(`+location = "${name}"\n+insecure = true\n`);
    expect(await host.snapshot()).toEqual(start);

    const result = await configure('--local-name', name);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await readFile(dropIn(), 'utf8')).toMatch(
      new RegExp(
        `^# BEGIN docker-credential-dstack.*\\n\\[\\[registry\\]\\]\\nlocation = "${name}"\\ninsecure = true\\n# END docker-credential-dstack\\n$`,
      ),
    );
    expect(result.stdout).toContain(
      `local name ${name}, dockerd: nothing to write (it takes 127.0.0.0/8 as an insecure registry`,
    );
    expect(result.stdout).toContain(`local name ${name}, containerd: nothing to write`);
    expect(result.stdout).toMatch(/^configured$/m);
    // Only the drop-in (and the setup state) changed.
    const after = await host.snapshot();
    const changed = Object.keys(after).filter((k) => after[k] !== start[k]);
    expect(changed.filter((k) => !k.startsWith('state')).sort()).toEqual([
      'etc-containers/registries.conf.d/90-docker-credential-dstack.conf',
    ]);

    const ok = await doctor();
    expect(localNameLines(ok.stdout), ok.stdout).toEqual([
      `ok   local name, endpoint: http://${name} answers /healthz`,
      `skip local name, docker: docker is not installed (not in --engines)`,
      `ok   local name, containerd: no ${join(host.containerdCerts, name, 'hosts.toml')}: containerd's default host config pulls ${name}/… over http`,
      `ok   local name, podman: ${dropIn()} has insecure = true for ${name}`,
    ]);

    expect((await configure('--local-name', name)).stdout).toContain('already configured: nothing changed');
    const undo = await host.run(['unconfigure', '--state-dir', host.stateDir, '--no-reload']);
    expect(undo.exitCode, undo.stderr).toBe(0);
    expect(await host.snapshot()).toEqual(start);

    // doctor now says what is missing, and which command fixes it.
    const missing = await doctor();
    expect(missing.exitCode).toBe(1);
    expect(missing.stdout).toContain(
      `fail local name, podman: no drop-in in ${host.registriesConf} names ${name}: podman refuses the plain-http endpoint ("server gave HTTP response to HTTPS client") (fix: run docker-credential-dstack configure --local-name ${name})`,
    );
  });

  it('beside the mirror endpoint: one drop-in block with the docker.io mirror and the name', async () => {
    const result = await configure(
      '--mirror',
      'https://mirror.example',
      `--mirror-endpoint=http://${name}`,
      '--local-name',
      name,
    );
    expect(result.exitCode, result.stderr).toBe(0);
    const text = await readFile(dropIn(), 'utf8');
    expect(text).toContain(
      `[[registry.mirror]]\nlocation = "${name}"\ninsecure = true\n\n[[registry]]\nlocation = "${name}"\ninsecure = true\n`,
    );
    expect(await readFile(join(host.containerdCerts, 'docker.io', 'hosts.toml'), 'utf8')).toContain(
      `[host."http://${name}"]`,
    );
  });

  it('doctor fails a containerd hosts.toml that sends the name elsewhere, and a later drop-in without insecure', async () => {
    await configure('--local-name', name);
    await put(join(host.containerdCerts, name, 'hosts.toml'), 'server = "https://registry.example"\n');
    await put(join(host.registriesConf, '99-later.conf'), `[[registry]]\nlocation = "${name}"\n`);
    const result = await doctor();
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(
      `fail local name, containerd: ${join(host.containerdCerts, name, 'hosts.toml')} sends ${name} to https://registry.example (fix: remove`,
    );
    expect(result.stdout).toContain(
      `fail local name, podman: ${join(host.registriesConf, '99-later.conf')} decides for ${name} without insecure = true`,
    );
  });

  it.each([
    ['http://127.0.0.1:8484', 'no scheme'],
    ['10.1.2.3:8484', 'the host must be 127.0.0.0/8 or localhost'],
    ['127.0.0.1:443', 'not port 443'],
  ])('refuses --local-name %j in one line, before anything is read', async (bad, why) => {
    const start = await host.snapshot();
    for (const command of [
      ['configure', ...host.pathArgs, ...ENGINES],
      ['doctor', ...doctorArgs(host, 'podman')],
    ]) {
      const result = await host.run([...command, '--local-name', bad]);
      expect(result.exitCode).toBe(1);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain(`--local-name "${bad}": ${why}`);
    }
    expect(await host.snapshot()).toEqual(start);
  });
});

async function put(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}
