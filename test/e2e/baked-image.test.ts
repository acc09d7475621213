import { mkdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, REGISTRY, startEnrollmentStack, type EnrollmentStack } from './harness/enrollment-stack.ts';
import { engineRoot, inRoot, type EngineRoot } from './harness/engine-roots.ts';
import { stopProcess, trackProcess, sleep } from '../helpers/reaper.ts';
import { assertBinaryBuilt, HELPER_BINARY } from '../helpers/helper-binary.ts';

const BAKE = join(import.meta.dirname, '..', '..', 'scripts', 'bake-image.sh');
const UNITS = '/etc/systemd/system';
const ENROLL_UNIT = 'docker-credential-dstack-enroll.service';
const MIRROR_SOCKET = 'docker-credential-dstack-mirror.socket';
const MIRROR_SERVICE = 'docker-credential-dstack-mirror.service';

// Issue 20: scripts/bake-image.sh bakes into a Debian root made with debootstrap (the e2e
// trixie root, seen through an overlay so the cached root is never written), then the baked
// units' own commands run in that root inside a VM namespace, as systemd would start them at
// first boot: enroll against the stand-in metadata service, then the socket-activated endpoint.
// Nothing is copied into the root by hand. systemd itself is not booted (no PID 1 in a namespace).
describe('e2e: a baked image enrolls at first boot', () => {
  let stack: EnrollmentStack;
  let base: EngineRoot;
  let layers: { upper: string; work: string; merged: string };

  beforeAll(async () => {
    assertBinaryBuilt();
    base = engineRoot('trixie');
    stack = await startEnrollmentStack(1);
    layers = { upper: join(stack.dir, 'upper'), work: join(stack.dir, 'work'), merged: join(stack.dir, 'merged') };
    for (const dir of Object.values(layers)) await mkdir(dir, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  // The overlay lives in a mount namespace of its own that dies with the command: nothing stays mounted.
  function overRoot(argv: string[]): string[] {
    const mount = 'mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4" && shift 4 && exec "$@"';
    return [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      mount,
      'overlay',
      base.dir,
      layers.upper,
      layers.work,
      layers.merged,
      ...argv,
    ];
  }
  // A baked unit's command, run from the baked root in the VM namespace.
  function inBakedVm(argv: string[]): [string, string[]] {
    const [file, args] = inRoot({ ...base, dir: layers.merged }, argv);
    return ['ip', ['netns', 'exec', stack.net.vms[0]!, ...overRoot([file, ...args])]];
  }
  async function unit(name: string): Promise<string> {
    return readFile(join(layers.upper, UNITS, name), 'utf8');
  }

  it('bakes the binary, the units and the enroll-at-boot config, and no token', async () => {
    const [file, ...args] = overRoot([
      'sh',
      BAKE,
      '--root',
      layers.merged,
      '--server',
      stack.service.url,
      '--ca-file',
      stack.tlsCert,
      '--binary',
      HELPER_BINARY,
    ]);
    const bake = await execa(file!, args, { reject: false });
    expect(bake.exitCode, `${bake.stdout}\n${bake.stderr}`).toBe(0);
    expect(bake.stdout).toContain('baked: VMs from this image enroll with');
    const config = JSON.parse(await readFile(join(layers.upper, 'etc/docker-credential-dstack/config.json'), 'utf8'));
    expect(config).toEqual({
      server: stack.service.url,
      tokenFile: '/etc/docker-credential-dstack/token',
      caFile: '/etc/docker-credential-dstack/service-ca.pem',
    });
    await expect(stat(join(layers.upper, 'etc/docker-credential-dstack/token'))).rejects.toThrow();
    expect((await stat(join(layers.upper, 'usr/local/bin/docker-credential-dstack'))).mode & 0o777).toBe(0o755);
    const enrollUnit = await unit(ENROLL_UNIT);
    expect(enrollUnit).toContain(
      '\nExecStart=/usr/local/bin/docker-credential-dstack enroll --cloud aws\nExecStartPost=-/usr/local/bin/docker-credential-dstack configure\n',
    );
    expect(enrollUnit).toMatch(/^Before=docker-credential-dstack-mirror\.socket docker\.service containerd\.service$/m);
    expect(await readlink(join(layers.upper, UNITS, 'multi-user.target.wants', ENROLL_UNIT))).toBe(
      join(UNITS, ENROLL_UNIT),
    );
    expect(await readlink(join(layers.upper, UNITS, 'sockets.target.wants', MIRROR_SOCKET))).toBe(
      join(UNITS, MIRROR_SOCKET),
    );
    // Nothing of the bake is left behind in the image but what it installed.
    const { stdout: staged } = await execa('sh', [
      '-c',
      `ls -A "${join(layers.upper, 'var/tmp')}" 2>/dev/null || true`,
    ]);
    expect(staged).not.toMatch(/dstack-bake/);
  });

  it('at first boot the enroll unit enrolls the VM and the endpoint it starts serves with the token', async () => {
    await stack.serve(await stack.evidenceFor('i-0b0b0b0b0b0b0b001'));
    const enrollUnit = await unit(ENROLL_UNIT);
    const environment = /^Environment=(.*)$/m.exec(enrollUnit)![1]!;
    const execStart = /^ExecStart=(.*)$/m.exec(enrollUnit)![1]!.split(' ');
    const [file, args] = inBakedVm(['env', environment, ...execStart]);
    const boot = await execa(file, args, { reject: false });
    expect(boot.exitCode, boot.stderr).toBe(0);
    expect(boot.stdout).toMatch(new RegExp(`^enrolled as aws:${ACCOUNT}:i-0b0b0b0b0b0b0b001 \\(project gpu\\)`));
    expect((await stat(join(layers.upper, 'etc/docker-credential-dstack/token'))).mode & 0o777).toBe(0o600);
    expect((await stack.enrollments()).at(-1)).toMatchObject({
      outcome: 'granted',
      instance: `aws:${ACCOUNT}:i-0b0b0b0b0b0b0b001`,
    });

    // ExecStartPost: configure, now that the host holds a token (no dockerd runs yet: the unit
    // is ordered before docker.service, which then starts with the edited daemon.json).
    const configureStart = /^ExecStartPost=-(.*)$/m.exec(enrollUnit)![1]!.split(' ');
    const [configureFile, configureArgs] = inBakedVm(['env', environment, ...configureStart]);
    const configure = await execa(configureFile, configureArgs, { reject: false });
    expect(configure.exitCode, `${configure.stdout}\n${configure.stderr}`).toBe(0);
    expect(configure.stdout).toMatch(/^configured$/m);
    expect(configure.stdout).toContain('dockerd: not running; the mirror applies when it starts');
    expect(
      JSON.parse(await readFile(join(layers.upper, 'etc/docker/daemon.json'), 'utf8'))['registry-mirrors'],
    ).toEqual(['https://registry.enroll.test']);

    // The next boot: the token is there, so the unit does nothing.
    const second = await execa(file, args, { reject: false });
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).toContain('already enrolled');

    // The endpoint as its socket unit starts it: systemd-socket-activate hands the socket, the
    // service's ExecStart runs from the baked root with the baked config, and it answers.
    const service = await unit(MIRROR_SERVICE);
    const listen = /^ListenStream=(.*)$/m.exec(await unit(MIRROR_SOCKET))![1]!;
    const mirrorStart = /^ExecStart=(.*)$/m.exec(service)![1]!.split(' ');
    const mirrorEnv = /^Environment=(.*)$/m.exec(service)![1]!;
    const [rootFile, rootArgs] = inRoot({ ...base, dir: layers.merged }, ['env', mirrorEnv, ...mirrorStart]);
    const endpoint = execa(
      'ip',
      [
        'netns',
        'exec',
        stack.net.vms[0]!,
        'systemd-socket-activate',
        '-l',
        listen,
        ...overRoot([rootFile, ...rootArgs]),
      ],
      { reject: false },
    );
    trackProcess(endpoint.pid!, 'baked mirror endpoint');
    let log = '';
    endpoint.stderr!.on('data', (chunk: Buffer) => (log += chunk));
    try {
      let health = '';
      for (let i = 0; i < 100 && !health.includes('ok'); i++) {
        await sleep(100);
        health = (
          await execa('ip', ['netns', 'exec', stack.net.vms[0]!, 'curl', '-s', '-m', '2', `http://${listen}/healthz`], {
            reject: false,
          })
        ).stdout;
      }
      expect(health, log).toContain('ok');
    } finally {
      await stopProcess(endpoint.pid!, 5_000);
    }

    // The enrolled token is an ordinary one: the baked helper gets the registry's credential.
    const [getFile, getArgs] = inBakedVm(['env', environment, '/usr/local/bin/docker-credential-dstack', 'get']);
    const get = await execa(getFile, getArgs, { input: `${REGISTRY}\n`, reject: false });
    expect(get.exitCode, get.stderr).toBe(0);
    expect(JSON.parse(get.stdout)).toMatchObject({ ServerURL: REGISTRY, Username: 'puller' });
  });
});
