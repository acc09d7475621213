import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMirrorStack, type MirrorStack } from './harness/mirror-stack.ts';
import { describePull, engineImageInspect, engineImagePull, seedLabel } from './harness/engine-api.ts';
import { describeResult } from './harness/docker-cli.ts';
import { lineMatching, markLog } from './harness/log-match.ts';
import { credentialGrants, type AuditRecord } from '../helpers/built-service.ts';
import { metricTotal } from './harness/mirror-endpoint.ts';
import { ctrPullFlags, dockerdMatrix, expectedImageId, packageVersion, runsClients } from './harness/engine-matrix.ts';
import { DOCKERD_FALLBACK } from './harness/dockerd-fallback.ts';
import { engineCommand } from './harness/engine-roots.ts';
import { runPodman } from './harness/podman.ts';

// The host-local mirror endpoint in front of a registry with `auth: token` whose realm is the
// service (issuer source). Scenarios 2, 3, 4 and 8 of issue 10: the shim's Engine API pull,
// containerd (`ctr --hosts-dir`, no --user) and podman (a registries.conf mirror, no
// credHelpers) all get the image through the endpoint with a registry token from our realm,
// and 10 concurrent pulls cost the service one credential request.
const APPS = Array.from({ length: 10 }, (_, i) => `app-${i}`);
const MANIFEST_200 = (repository: string) => new RegExp(`msg="authorized request".*uri=/v2/${repository}/manifests/`);

function realmGrants(audit: AuditRecord[]): AuditRecord[] {
  return audit.filter((r) => r.event === 'realm' && r.outcome === 'granted');
}

describe.each(dockerdMatrix())(
  'e2e: the mirror endpoint, issuer source (auth: token registry, our realm), on $label',
  (engine) => {
    let stack: MirrorStack;
    beforeAll(async () => {
      stack = await startMirrorStack({ source: 'issuer', images: APPS.map((app) => `library/${app}:1`), engine });
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it("the shim's call pulls python:3.14 with a registry token the realm issued for one ticket", async () => {
      const pull = await engineImagePull(stack.dockerd, 'python', '3.14');
      expect(pull.status, describePull(pull)).toBe(200);
      expect(pull.error, describePull(pull)).toBeUndefined();
      const inspect = await engineImageInspect(stack.dockerd, 'python:3.14');
      expect(inspect.image?.Id).toBe(expectedImageId(engine, stack.images.get('library/python:3.14')!));

      // One ticket (credential, issuer source), traded at the realm for pull on library/python.
      const audit = await stack.service.audit();
      const tickets = credentialGrants(audit);
      expect(tickets).toHaveLength(1);
      expect(tickets[0]).toMatchObject({ instance: stack.instance, source: 'issuer' });
      const grants = realmGrants(audit);
      expect(
        grants.some((r) => (r.scope ?? '').includes('repository:library/python:pull')),
        JSON.stringify(grants),
      ).toBe(true);
      expect(grants.every((r) => r.instance === stack.instance)).toBe(true);

      // The registry saw a registry token: it authorized the manifest for a token whose subject is the instance.
      const registryLog = await stack.registry.log();
      expect(
        lineMatching(registryLog, MANIFEST_200('library/python')),
        'registry authorized a token for the manifest',
      ).toBeDefined();
      expect(
        lineMatching(
          registryLog,
          new RegExp(
            `msg=GetImageManifest auth\\.user\\.name="?${stack.instance}"? .*uri=/v2/library/python/manifests/`,
          ),
        ),
        'token subject is the instance',
      ).toBeDefined();

      const endpointLog = await stack.endpoint.log();
      expect(
        lineMatching(
          endpointLog,
          /pull method=(GET|HEAD) kind=manifest repository=library\/python ref=3\.14 .*status=200/,
        ),
        endpointLog,
      ).toBeDefined();
      expect(
        metricTotal(await stack.endpoint.metrics(), 'dstack_mirror_registry_token_requests_total'),
        'the endpoint traded the ticket at the realm',
      ).toBeGreaterThanOrEqual(1);
      expect(
        lineMatching(await readFile(stack.dockerd.logPath, 'utf8'), DOCKERD_FALLBACK),
        'no fallback',
      ).toBeUndefined();
    });

    if (runsClients(engine))
      it(`containerd ${packageVersion(engine, 'containerd')}: ctr images pull --hosts-dir with the endpoint in hosts.toml and no --user`, async () => {
        expect(await readFile(stack.engineFiles.containerdHostsToml, 'utf8')).toContain(
          `[host."${stack.endpoint.url}"]`,
        );
        const sinceRegistry = await markLog(() => stack.registry.log());
        const sinceEndpoint = await markLog(() => stack.endpoint.log());
        // dockerd's own containerd, in a namespace of ours; the native snapshotter works on any filesystem.
        const ctr = (args: string[]) =>
          execa(
            ...engineCommand(
              engine.root,
              [
                'ctr',
                '--address',
                join(stack.dir, 'd', 'exec', 'containerd', 'containerd.sock'),
                '--namespace',
                'e2e-mirror',
                ...args,
              ],
              [{ source: stack.dir }],
            ),
            { reject: false, timeout: 60_000 },
          );
        const pull = await ctr([
          'images',
          'pull',
          ...ctrPullFlags(engine),
          '--snapshotter',
          'native',
          '--hosts-dir',
          stack.engineFiles.containerdHostsDir,
          'docker.io/library/python:3.14',
        ]);
        expect(pull.exitCode, describeResult(pull)).toBe(0);
        const list = await ctr(['images', 'ls']);
        expect(lineMatching(String(list.stdout), /docker\.io\/library\/python:3\.14/)).toContain(
          stack.images.get('library/python:3.14')!.manifestDigest,
        );

        expect(
          lineMatching(await sinceRegistry(), MANIFEST_200('library/python')),
          'containerd’s pull reached the registry with a token',
        ).toBeDefined();
        expect(lineMatching(await sinceEndpoint(), /library\/python/), 'the endpoint logged the pull').toBeDefined();
      });

    if (runsClients(engine))
      it(`podman ${packageVersion(engine, 'podman')} pull with a registries.conf mirror at the endpoint and no credHelpers`, async () => {
        expect(await readFile(stack.engineFiles.registriesDropIn, 'utf8')).toContain(
          `location = "${stack.endpoint.host}"`,
        );
        const root = join(stack.dir, 'podman');
        await mkdir(join(root, 'home'), { recursive: true });
        // No client config, no auth file with anything in it: podman has no credential to send.
        const authFile = join(root, 'auth.json');
        await writeFile(authFile, '{}\n');
        const helperLogBefore = (await stack.host.debugLog()).length;
        const sinceRegistry = await markLog(() => stack.registry.log());
        const sinceEndpoint = await markLog(() => stack.endpoint.log());
        const podman = (args: string[]) =>
          runPodman(
            {
              dir: root,
              env: {
                PATH: process.env.PATH ?? '/usr/bin:/bin',
                HOME: join(root, 'home'),
                REGISTRY_AUTH_FILE: authFile,
                CONTAINERS_REGISTRIES_CONF: stack.engineFiles.registriesDropIn,
              },
              ...(engine.root ? { root: engine.root } : {}),
              binds: [stack.dir],
            },
            args,
          );
        const pull = await podman(['pull', 'docker.io/library/python:3.14']);
        expect(pull.exitCode, describeResult(pull)).toBe(0);
        const inspect = await podman([
          'image',
          'inspect',
          'docker.io/library/python:3.14',
          '--format',
          '{{index .Labels "e2e.seed"}}',
        ]);
        expect(String(inspect.stdout).trim(), describeResult(inspect)).toBe('library/python:3.14');

        expect(
          lineMatching(await sinceRegistry(), MANIFEST_200('library/python')),
          'podman’s pull reached the registry with a token',
        ).toBeDefined();
        expect(lineMatching(await sinceEndpoint(), /library\/python/), 'the endpoint logged the pull').toBeDefined();
        // The helper's log file is shared with the endpoint: every new line is the endpoint's own.
        const newLines = (await stack.host.debugLog())
          .slice(helperLogBefore)
          .split('\n')
          .filter((line) => line !== '');
        expect(
          newLines.filter((line) => !line.includes(`docker-credential-dstack[${stack.endpoint.pid}]`)),
          'podman ran no credential helper',
        ).toEqual([]);
      });

    it('10 concurrent Engine API pulls of different images cost the service one credential request', async () => {
      // Cold: an empty credential cache and a fresh endpoint process.
      await stack.host.eraseCache();
      await stack.restartEndpoint();
      const ticketsBefore = credentialGrants(await stack.service.audit()).length;

      const pulls = await Promise.all(APPS.map((app) => engineImagePull(stack.dockerd, app, '1')));
      pulls.forEach((pull, i) => {
        expect(pull.error, `${APPS[i]}: ${describePull(pull)}`).toBeUndefined();
      });
      for (const app of APPS) expect(await seedLabel(stack.dockerd, `${app}:1`), app).toBe(`library/${app}:1`);

      const audit = await stack.service.audit();
      expect(credentialGrants(audit).length - ticketsBefore, 'one credential request for 10 pulls').toBe(1);
      const metrics = await stack.endpoint.metrics();
      expect(metricTotal(metrics, 'dstack_mirror_credential_requests_total'), metrics).toBe(1);
      expect(
        metricTotal(metrics, 'dstack_mirror_registry_token_requests_total'),
        'a registry token per repository',
      ).toBe(APPS.length);
      const grants = realmGrants(audit);
      const registryLog = await stack.registry.log();
      const endpointLog = await stack.endpoint.log();
      for (const app of APPS) {
        expect(
          grants.some((r) => (r.scope ?? '').includes(`repository:library/${app}:pull`)),
          app,
        ).toBe(true);
        expect(lineMatching(registryLog, MANIFEST_200(`library/${app}`)), app).toBeDefined();
        expect(
          lineMatching(
            endpointLog,
            new RegExp(`pull method=(GET|HEAD) kind=manifest repository=library/${app} ref=1 .*status=200`),
          ),
          app,
        ).toBeDefined();
      }
    });
  },
);
