import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMirrorStack, type MirrorStack } from './harness/mirror-stack.ts';
import { setDockerdMirror } from './harness/engine-mirror-files.ts';
import { describePull, engineImageInspect, engineImagePull, engineImageRemove } from './harness/engine-api.ts';
import { accessLine, lineMatching, markLog } from './harness/log-match.ts';
import type { MirrorEndpoint } from './harness/mirror-endpoint.ts';
import type { RegistryProcess } from '../helpers/registry-process.ts';
import { dockerdMatrix, expectedImageId } from './harness/engine-matrix.ts';

// Scenario 5 of issue 10: upstreams dockerd's own registry-mirrors cannot express.
// - A path-prefixed upstream, https://harbor.example/dockerhub-proxy: Harbor proxy-cache
//   projects and Artifactory remote repositories (repository-path access) sit under a path
//   that is a repository namespace, so python:3.14 lives at dockerhub-proxy/library/python
//   (docs/mirror.md, "--upstream"). The registry here holds it there, and a different image
//   at library/python, so a pull that ignored the prefix would be seen.
// - A registry where the official image was pushed as `python`, not `library/python`
//   (dstack issue #3727's docker.mycompany.example/python:3.14): `--library strip`, and
//   `--library both` (library/python first, then python on a 404).
// dockerd asks each endpoint for library/python:3.14 through the shim's Engine API call.
const PREFIX = 'dockerhub-proxy';

describe.each(dockerdMatrix())(
  'e2e: the mirror endpoint with a path-prefixed upstream and a library/-stripping upstream, on $label',
  (engine) => {
    let stack: MirrorStack;
    let flat: RegistryProcess;
    beforeAll(async () => {
      stack = await startMirrorStack({
        engine,
        source: 'static',
        images: [`${PREFIX}/library/python:3.14`],
        extraRegistries: [{ name: 'flat', auth: 'htpasswd', images: ['python:3.14'] }],
        endpointArgs: (registry) => ['--upstream', `${registry.url}/${PREFIX}`],
      });
      flat = stack.extra.get('flat')!.process;
    });
    afterAll(async () => {
      await stack?.stop();
    });

    async function pullThrough(endpoint: MirrorEndpoint) {
      await setDockerdMirror(stack.dockerd, endpoint.url);
      await engineImageRemove(stack.dockerd, 'python:3.14');
      const pull = await engineImagePull(stack.dockerd, 'python', '3.14');
      expect(pull.status, describePull(pull)).toBe(200);
      expect(pull.error, describePull(pull)).toBeUndefined();
      return (await engineImageInspect(stack.dockerd, 'python:3.14')).image;
    }

    it('a path-prefixed upstream serves python:3.14', async () => {
      const sinceRegistry = await markLog(() => stack.registry.log());
      const image = await pullThrough(stack.endpoint);
      expect(image?.Id).toBe(expectedImageId(engine, stack.images.get(`${PREFIX}/library/python:3.14`)!));
      expect(image?.Config?.Labels?.['e2e.seed']).toBe(`${PREFIX}/library/python:3.14`);

      const registryLog = await sinceRegistry();
      expect(
        lineMatching(
          registryLog,
          new RegExp(
            `msg=GetImageManifest auth\\.user\\.name="?${stack.account!.username}"? .*uri=/v2/${PREFIX}/library/python/manifests/3\\.14`,
          ),
        ),
        registryLog,
      ).toBeDefined();
      expect(lineMatching(registryLog, /uri=\/v2\/library\//), 'nothing asked outside the prefix').toBeUndefined();
      expect(
        lineMatching(
          await stack.endpoint.log(),
          new RegExp(`pull .*repository=library/python .*upstream_repository=${PREFIX}/library/python .*status=200`),
        ),
      ).toBeDefined();
    });

    it('a library/-stripping upstream serves python:3.14 from where it was pushed as python', async () => {
      const strip = await stack.startEndpoint(['--upstream', flat.url, '--library', 'strip'], 'mirror-strip');
      const sinceFlat = await markLog(() => flat.log());
      const image = await pullThrough(strip);
      expect(image?.Id).toBe(expectedImageId(engine, stack.extra.get('flat')!.images.get('python:3.14')!));
      expect(image?.Config?.Labels?.['e2e.seed']).toBe('python:3.14');

      const flatLog = await sinceFlat();
      expect(
        lineMatching(
          flatLog,
          /msg=GetImageManifest auth\.user\.name="?flat-user"? .*uri=\/v2\/python\/manifests\/3\.14/,
        ),
        flatLog,
      ).toBeDefined();
      expect(lineMatching(flatLog, /uri=\/v2\/library\//), 'strip never asks for library/').toBeUndefined();
      expect(lineMatching(await strip.log(), /python/)).toBeDefined();
    });

    it('--library both asks for library/python, then python after the 404', async () => {
      const both = await stack.startEndpoint(['--upstream', flat.url, '--library', 'both'], 'mirror-both');
      const sinceFlat = await markLog(() => flat.log());
      const image = await pullThrough(both);
      expect(image?.Config?.Labels?.['e2e.seed']).toBe('python:3.14');
      const flatLog = await sinceFlat();
      expect(
        lineMatching(flatLog, accessLine('GET|HEAD', '/v2/library/python/manifests/3.14', 404)),
        flatLog,
      ).toBeDefined();
      expect(lineMatching(flatLog, accessLine('GET|HEAD', '/v2/python/manifests/3.14', 200)), flatLog).toBeDefined();
    });
  },
);
