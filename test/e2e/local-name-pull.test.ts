import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMirrorStack, type MirrorStack } from './harness/mirror-stack.ts';
import { describePull, engineImageInspect, engineImagePull } from './harness/engine-api.ts';
import { clearDockerdMirrors } from './harness/engine-mirror-files.ts';
import { dstackRewrite, fromImageAndTag } from './harness/dstack-rewrite.ts';
import { lineMatching } from './harness/log-match.ts';
import { credentialGrants } from '../helpers/built-service.ts';
import { dockerdMatrix, expectedImageId } from './harness/engine-matrix.ts';

// Local-name mode (issue 15): the dstack server has DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY set
// to the endpoint's loopback address, so dstack rewrites `python:3.14` to
// `127.0.0.1:<port>/python:3.14`. The shim's Engine API call of that name, on a dockerd with no
// registry-mirrors and no X-Registry-Auth, goes to the endpoint by name; the endpoint maps the
// single-component `python` to `library/python` upstream and uses the service's credential.
describe.each(dockerdMatrix())(
  'e2e: local-name mode, the shim pulls dstack-rewritten names through the endpoint, on $label',
  (engine) => {
    let stack: MirrorStack;
    beforeAll(async () => {
      stack = await startMirrorStack({ source: 'static', images: ['myteam/app:1', 'library/ubuntu:latest'], engine });
      await clearDockerdMirrors(stack.dockerd);
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('python:3.14, myteam/app:1, ubuntu (no tag) and a digest reference are pulled through the endpoint as the configured user', async () => {
      expect((await stack.dockerd.info()).RegistryConfig.Mirrors ?? []).toEqual([]);
      const address = new URL(stack.endpoint.url).host; // 127.0.0.1:<port>
      // Names that name a registry are left alone by dstack, so never reach the endpoint.
      for (const named of ['docker.io/library/python:3.14', 'ghcr.io/org/app:1', 'localhost/app', 'localhost:5000/app'])
        expect(dstackRewrite(named, address)).toBe(named);
      const python = stack.images.get('library/python:3.14')!;
      const cases = [
        { image: 'python:3.14', seed: 'library/python:3.14', upstream: 'library/python' },
        { image: 'myteam/app:1', seed: 'myteam/app:1', upstream: 'myteam/app' },
        { image: 'ubuntu', seed: 'library/ubuntu:latest', upstream: 'library/ubuntu' },
        { image: `python@${python.manifestDigest}`, seed: 'library/python:3.14', upstream: 'library/python' },
      ];
      for (const { image, seed, upstream } of cases) {
        const reference = dstackRewrite(image, address);
        expect(reference).toBe(`${address}/${image}`);
        const { fromImage, tag } = fromImageAndTag(reference);
        const pull = await engineImagePull(stack.dockerd, fromImage, tag);
        expect(pull.status, `${reference}: ${describePull(pull)}`).toBe(200);
        expect(pull.error, `${reference}: ${describePull(pull)}`).toBeUndefined();
        const inspect = await engineImageInspect(stack.dockerd, reference);
        expect(inspect.image?.Id, reference).toBe(expectedImageId(engine, stack.images.get(seed)!));
        expect(inspect.image?.Config?.Labels?.['e2e.seed'], reference).toBe(seed);
        const user = stack.account!.username;
        expect(
          lineMatching(
            await stack.registry.log(),
            new RegExp(`msg=GetImageManifest auth\\.user\\.name="?${user}"? .*uri=/v2/${upstream}/manifests/`),
          ),
          `${reference}: upstream ${upstream} as the configured user`,
        ).toBeDefined();
      }

      // The endpoint logged the engine's names and the mapped upstream names.
      const endpointLog = await stack.endpoint.log();
      expect(
        lineMatching(
          endpointLog,
          /kind=manifest repository=python ref=3\.14 upstream=\S+ upstream_repository=library\/python status=200/,
        ),
        endpointLog,
      ).toBeDefined();
      expect(
        lineMatching(
          endpointLog,
          /kind=manifest repository=ubuntu ref=latest upstream=\S+ upstream_repository=library\/ubuntu status=200/,
        ),
        endpointLog,
      ).toBeDefined();
      expect(
        lineMatching(endpointLog, /kind=manifest repository=myteam\/app ref=1 upstream=\S+ status=200/),
        endpointLog,
      ).toBeDefined();
      expect(
        lineMatching(
          endpointLog,
          new RegExp(`kind=manifest repository=python ref=${python.manifestDigest} .*status=200`),
        ),
        endpointLog,
      ).toBeDefined();

      // The service granted the static credential to this instance; the password is in no log.
      const grants = credentialGrants(await stack.service.audit());
      expect(grants.length).toBeGreaterThanOrEqual(1);
      expect(grants.every((g) => g.instance === stack.instance && g.source === 'static')).toBe(true);
      const dockerdLog = await readFile(stack.dockerd.logPath, 'utf8');
      // dockerd never went to Docker Hub: the names are the endpoint's, and no mirror is set.
      expect(dockerdLog).not.toMatch(/registry-1\.docker\.io|index\.docker\.io/);
      for (const [name, text] of [
        ['endpoint log', endpointLog],
        ['dockerd log', dockerdLog],
      ] as const) {
        expect(text, name).not.toContain(stack.account!.password);
        expect(text, name).not.toContain(stack.account!.basic.slice('Basic '.length));
      }
    });

    it('doctor --local-name: this dockerd lists 127.0.0.0/8 as insecure in docker info, so nothing is written for it', async () => {
      const address = new URL(stack.endpoint.url).host;
      const doctor = await stack.host.run(
        ['doctor', '--daemon-json', stack.dockerd.daemonJsonPath, '--engines', 'docker', '--local-name', address],
        { env: { DOCKER_HOST: stack.dockerd.host } },
      );
      expect(String(doctor.stdout)).toContain(`ok   local name, endpoint: http://${address} answers /healthz`);
      expect(String(doctor.stdout)).toContain(
        `ok   local name, dockerd: docker info lists 127.0.0.0/8 as insecure: dockerd pulls ${address}/… over http, nothing to write`,
      );
    });

    it('the mirror mode path is served by the same endpoint at the same time', async () => {
      const response = await fetch(`${stack.endpoint.url}/v2/library/python/manifests/3.14`, {
        headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('docker-content-digest')).toBe(
        stack.images.get('library/python:3.14')!.manifestDigest,
      );
    });
  },
);
