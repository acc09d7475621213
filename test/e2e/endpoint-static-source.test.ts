import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMirrorStack, type MirrorStack } from './harness/mirror-stack.ts';
import { describePull, engineImageInspect, engineImagePull, engineImageRemove } from './harness/engine-api.ts';
import { accessLine, countLines, lineMatching, markLog } from './harness/log-match.ts';
import { credentialGrants } from '../helpers/built-service.ts';
import { metricTotal } from './harness/mirror-endpoint.ts';
import { dockerdMatrix, expectedImageId, fallbackLine } from './harness/engine-matrix.ts';
import { DOCKERD_FALLBACK } from './harness/dockerd-fallback.ts';

// The host-local mirror endpoint in front of an htpasswd registry whose password only the
// service holds (static source). Scenarios 1, 6 and 7 of issue 10: the pull dstack-shim
// really makes (Engine API, no X-Registry-Auth) gets the configured user's credential at the
// registry; other local users and pushes are refused; with the service down a cached
// credential still pulls, and without one the endpoint says why and dockerd falls back.
// The endpoint's line for a pull: `pull method=… kind=… repository=… ref=… upstream=… status=…`.
const pullLine = (kind: string, ref: string, status: number) =>
  new RegExp(
    `pull method=(GET|HEAD) kind=${kind} repository=library/python ref=${ref.replace(/\./g, '\\.')} .*status=${status}\\b`,
  );

describe.each(dockerdMatrix())('e2e: the mirror endpoint, static source (htpasswd registry), on $label', (engine) => {
  let stack: MirrorStack;
  const dockerdLog = () => readFile(stack.dockerd.logPath, 'utf8');
  beforeAll(async () => {
    stack = await startMirrorStack({ source: 'static', engine });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("the shim's exact call, POST /images/create without X-Registry-Auth, pulls python:3.14 through the endpoint as the configured user", async () => {
    const info = await stack.dockerd.info();
    expect(info.RegistryConfig.Mirrors).toEqual([`${stack.endpoint.url}/`]);

    const pull = await engineImagePull(stack.dockerd, 'python', '3.14');
    expect(pull.status, describePull(pull)).toBe(200);
    expect(pull.error, describePull(pull)).toBeUndefined();
    const seeded = stack.images.get('library/python:3.14')!;
    const inspect = await engineImageInspect(stack.dockerd, 'python:3.14');
    expect(inspect.status).toBe(200);
    expect(inspect.image!.Id).toBe(expectedImageId(engine, seeded));
    expect(inspect.image!.Config?.Labels?.['e2e.seed']).toBe('library/python:3.14');

    // The registry authenticated the configured htpasswd user for the manifest and served the layer.
    const registryLog = await stack.registry.log();
    const user = stack.account!.username;
    expect(
      lineMatching(
        registryLog,
        new RegExp(`msg=GetImageManifest auth\\.user\\.name="?${user}"? .*uri=/v2/library/python/manifests/`),
      ),
      'manifest as the configured user',
    ).toBeDefined();
    expect(
      lineMatching(registryLog, accessLine('GET', `/v2/library/python/blobs/${seeded.layerDigest}`, 200)),
      'layer served',
    ).toBeDefined();

    // The service handed out the password once, to this instance.
    const grants = credentialGrants(await stack.service.audit());
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ instance: stack.instance, project: 'main', source: 'static' });

    // One log line for the pull; dockerd used the mirror and did not fall back to Docker Hub.
    const endpointLog = await stack.endpoint.log();
    expect(lineMatching(endpointLog, pullLine('manifest', '3.14', 200)), endpointLog).toBeDefined();
    expect(lineMatching(endpointLog, pullLine('blob', seeded.layerDigest, 200)), endpointLog).toContain(
      `upstream=${stack.registry.url}`,
    );
    expect(lineMatching(await dockerdLog(), DOCKERD_FALLBACK), 'no fallback').toBeUndefined();

    // The password reached the registry and nowhere on the host's logs or the engine.
    for (const [name, text] of [
      ['endpoint log', endpointLog],
      ['dockerd log', await dockerdLog()],
      ['image', JSON.stringify(inspect.image)],
    ] as const) {
      expect(text, name).not.toContain(stack.account!.password);
      expect(text, name).not.toContain(stack.account!.basic.slice('Basic '.length));
    }
  });

  // Not the engine's business: once, beside the host's dockerd.
  if (engine.root === undefined)
    it('a request from another local user (nobody) gets 403 and the log names its uid; pushes are refused', async () => {
      const sinceRegistry = await markLog(() => stack.registry.log());
      const sinceEndpoint = await markLog(() => stack.endpoint.log());
      const asNobody = (path: string) =>
        execa(
          'runuser',
          [
            '-u',
            'nobody',
            '--',
            'curl',
            '-sS',
            '-o',
            '/dev/null',
            '-w',
            '%{http_code}',
            `${stack.endpoint.url}${path}`,
          ],
          { reject: false },
        );
      for (const path of ['/v2/', '/v2/library/python/manifests/3.14']) {
        const refused = await asNobody(path);
        expect(String(refused.stdout), `${path}: ${String(refused.stderr)}`).toBe('403');
      }
      expect(
        lineMatching(await sinceEndpoint(), /refused connection from uid 65534\b/),
        'the endpoint log names the refused uid',
      ).toBeDefined();
      expect(metricTotal(await stack.endpoint.metrics(), 'dstack_mirror_refused_peers_total')).toBeGreaterThanOrEqual(
        2,
      );
      // The same request from root (this process) is served: the refusal was about the uid.
      const asRoot = await fetch(`${stack.endpoint.url}/v2/library/python/manifests/3.14`, {
        headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
      });
      expect(asRoot.status).toBe(200);
      expect(countLines(await sinceRegistry(), /GetImageManifest/), 'only root’s request reached the registry').toBe(1);

      // Pushes and anything outside the pull subset are refused in the registry's error format,
      // and none of them reaches the registry.
      for (const [method, path] of [
        ['POST', '/v2/library/x/blobs/uploads/'],
        ['PUT', '/v2/library/python/manifests/evil'],
        ['DELETE', `/v2/library/python/manifests/${stack.images.get('library/python:3.14')!.manifestDigest}`],
        ['PATCH', '/v2/library/x/blobs/uploads/some-upload'],
        ['GET', '/v2/_catalog'],
      ] as const) {
        const res = await fetch(`${stack.endpoint.url}${path}`, {
          method,
          ...(method === 'PUT' ? { body: '{}' } : {}),
        });
        expect(res.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${method} ${path}`).toBeLessThan(500);
        const body = (await res.json()) as { errors?: { code?: string; message?: string }[] };
        expect(body.errors?.[0]?.code, `${method} ${path}: ${JSON.stringify(body)}`).toMatch(/^[A-Z_]+$/);
      }
      const registryLog = await sinceRegistry();
      expect(lineMatching(registryLog, /"(POST|PUT|PATCH|DELETE) \/v2\//), registryLog).toBeUndefined();
      expect(lineMatching(registryLog, /_catalog/)).toBeUndefined();
    });

  it('a tag the upstream lacks: the endpoint answers 404 and dockerd logs its store’s fallback line', async () => {
    const sinceDockerd = await markLog(dockerdLog);
    const missing = await engineImagePull(stack.dockerd, 'python', 'no-such-tag');
    expect(missing.status !== 200 || missing.error !== undefined, describePull(missing)).toBe(true);
    expect(lineMatching(await stack.endpoint.log(), pullLine('manifest', 'no-such-tag', 404))).toBeDefined();
    const log = await sinceDockerd();
    expect(lineMatching(log, fallbackLine(engine)), log).toBeDefined();
    // ...and not the other store's: a check built on one line misses the other store.
    expect(lineMatching(log, engine.containerdStore ? /Attempting next endpoint/ : /trying next host/)).toBeUndefined();
  });

  it('service down: a cached credential still pulls; without one the endpoint logs the cause and dockerd falls back', async () => {
    expect(await engineImageRemove(stack.dockerd, 'python:3.14')).toBe(200);
    await stack.service.stop();

    // A fresh endpoint process (nothing in memory): the credential comes from the helper's cache.
    await stack.restartEndpoint();
    const sinceRegistry = await markLog(() => stack.registry.log());
    const cached = await engineImagePull(stack.dockerd, 'python', '3.14');
    expect(cached.status, describePull(cached)).toBe(200);
    expect(cached.error, describePull(cached)).toBeUndefined();
    expect((await engineImageInspect(stack.dockerd, 'python:3.14')).image?.Id).toBe(
      expectedImageId(engine, stack.images.get('library/python:3.14')!),
    );
    expect(
      lineMatching(
        await sinceRegistry(),
        new RegExp(`msg=GetImageManifest auth\\.user\\.name="?${stack.account!.username}"?`),
      ),
    ).toBeDefined();

    // No cached credential and no service: the endpoint cannot authenticate; it says why, the
    // registry is never asked for the image, dockerd falls back to Docker Hub (unreachable here).
    expect(await engineImageRemove(stack.dockerd, 'python:3.14')).toBe(200);
    await stack.host.eraseCache();
    await stack.restartEndpoint();
    const sinceRegistry2 = await markLog(() => stack.registry.log());
    const sinceDockerd = await markLog(dockerdLog);
    const failed = await engineImagePull(stack.dockerd, 'python', '3.14');
    expect(failed.status !== 200 || failed.error !== undefined, describePull(failed)).toBe(true);
    expect((await engineImageInspect(stack.dockerd, 'python:3.14')).status).toBe(404);

    const endpointLog = await stack.endpoint.log();
    const cause = lineMatching(endpointLog, pullLine('manifest', '3.14', 503));
    expect(cause, endpointLog).toMatch(/cause=service_unreachable .*cannot reach dstack server/);
    expect(cause).toContain(stack.service.url);
    expect(
      lineMatching(await sinceRegistry2(), /GetImageManifest/),
      'the registry was not asked for the image',
    ).toBeUndefined();
    const fallback = lineMatching(await sinceDockerd(), DOCKERD_FALLBACK);
    expect(fallback, 'dockerd logged the mirror error and went on to the next endpoint').toMatch(/\b503\b/);
    expect(endpointLog).not.toContain(stack.account!.password);
  });
});
