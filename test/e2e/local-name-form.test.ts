import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMirrorStack, type MirrorStack } from './harness/mirror-stack.ts';
import { startMirrorEndpoint, type MirrorEndpoint } from './harness/mirror-endpoint.ts';
import { clearDockerdMirrors } from './harness/engine-mirror-files.ts';
import { describePull, engineImageInspect } from './harness/engine-api.ts';
import { dstackRewrite } from './harness/dstack-rewrite.ts';
import { countLines, markLog } from './harness/log-match.ts';
import { seedImage } from '../helpers/seed-image.ts';
import { shimPull } from './harness/shim-pull.ts';
import { dockerdMatrix, expectedImageId } from './harness/engine-matrix.ts';

// The name's form (issue 15, item 4), measured with the shim's own pull logic (shim-pull.ts)
// on the classic and the containerd store. With a port (`127.0.0.1:<port>`, the chosen form):
// a tagless `ubuntu` becomes `127.0.0.1:<port>/ubuntu`, which has a ':' so the shim appends no
// `:latest`, and its ImageList filter matches any local tag of that repository: the second run
// never asks the endpoint, so a moved `latest` is not fetched, and with only another tag held
// locally the run has no image at all. Without a port (`127.88.0.1`, port 443: the endpoint
// over TLS there) the shim appends `:latest` and pulls every time, as for Docker Hub names.
// docs/with-dstack.md, "The name's form", has the decision and these numbers.
const ENGINES = dockerdMatrix().filter((e) => e.root === undefined || e.containerdStore);
const PORTLESS = '127.88.0.1';

describe.each(ENGINES)('e2e: local-name mode, the name with a port and without, the shim on $label', (engine) => {
  let stack: MirrorStack;
  let address: string;
  let tls: MirrorEndpoint;
  beforeAll(async () => {
    stack = await startMirrorStack({
      source: 'static',
      images: ['library/ubuntu:latest', 'library/debian:12'],
      engine,
    });
    await clearDockerdMirrors(stack.dockerd);
    address = new URL(stack.endpoint.url).host;
    const certs = join(stack.dir, 'certs');
    const made = await stack.host.run(['mirror-cert', '--out', certs]);
    if (made.exitCode !== 0) throw new Error(`mirror-cert: ${String(made.stderr)}`);
    tls = await startMirrorEndpoint({
      dir: join(stack.dir, 'mirror-443'),
      helper: stack.host,
      name: 'mirror-443',
      listen: `${PORTLESS}:443`,
      args: [
        '--upstream',
        stack.registry.url,
        '--tls-cert',
        join(certs, 'cert.pem'),
        '--tls-key',
        join(certs, 'key.pem'),
      ],
    });
  });
  afterAll(async () => {
    await tls?.stop();
    await stack?.stop();
  });

  // A new `latest` in the upstream, as when the image is rebuilt.
  const moveLatest = (repository: string, content: string) =>
    seedImage({
      registryUrl: stack.registry.url,
      repository,
      tag: 'latest',
      authorization: stack.account!.basic,
      content,
    });
  const manifestReads = async (since: () => Promise<string>, repository: string) =>
    countLines(await since(), new RegExp(`kind=manifest repository=${repository} ref=latest .*status=200`));

  it('with a port: a tagless name is pulled once, then never again, so a moved latest is not fetched', async () => {
    const name = dstackRewrite('ubuntu', address);
    expect(name).toBe(`${address}/ubuntu`);
    const first = await shimPull(stack.dockerd, name);
    expect(first).toMatchObject({ name, listed: 0, skipped: false });
    expect(first.pull?.error, describePull(first.pull!)).toBeUndefined();
    const old = stack.images.get('library/ubuntu:latest')!;
    expect((await engineImageInspect(stack.dockerd, name)).image?.Id).toBe(expectedImageId(engine, old));

    const moved = await moveLatest('library/ubuntu', 'ubuntu rebuilt\n');
    const since = await markLog(() => stack.endpoint.log());
    const second = await shimPull(stack.dockerd, name);
    expect(second, 'no :latest appended, the reference filter lists the held image, the pull is skipped').toEqual({
      name,
      listed: 1,
      skipped: true,
    });
    expect(await manifestReads(since, 'ubuntu'), 'the endpoint was not asked').toBe(0);
    expect((await engineImageInspect(stack.dockerd, name)).image?.Id, 'the run gets the old image').toBe(
      expectedImageId(engine, old),
    );

    // With its tag the same image is pulled each time (the name has `:latest`).
    const tagged = await shimPull(stack.dockerd, `${name}:latest`);
    expect(tagged).toMatchObject({ skipped: false, listed: 1 });
    expect((await engineImageInspect(stack.dockerd, name)).image?.Id).toBe(expectedImageId(engine, moved));
  });

  it('with a port: a tagless name is skipped when only another tag of it is held, and the run has no image', async () => {
    const held = await shimPull(stack.dockerd, dstackRewrite('debian:12', address));
    expect(held.pull?.error).toBeUndefined();
    const name = dstackRewrite('debian', address);
    const since = await markLog(() => stack.endpoint.log());
    expect(await shimPull(stack.dockerd, name), 'the filter matches debian:12 by its name').toEqual({
      name,
      listed: 1,
      skipped: true,
    });
    expect(await manifestReads(since, 'debian')).toBe(0);
    // What the shim then creates the container from: `<name>` means `<name>:latest`, not held.
    expect((await engineImageInspect(stack.dockerd, name)).status).toBe(404);
  });

  it(`without a port (${PORTLESS}, the endpoint over TLS on 443): the shim appends :latest and pulls every time`, async () => {
    const name = dstackRewrite('ubuntu', PORTLESS);
    expect(name).toBe(`${PORTLESS}/ubuntu`);
    const first = await shimPull(stack.dockerd, name);
    expect(first).toMatchObject({ name: `${name}:latest`, listed: 0, skipped: false });
    expect(first.pull?.error, describePull(first.pull!)).toBeUndefined();
    const moved = await moveLatest('library/ubuntu', 'ubuntu rebuilt again\n');
    const since = await markLog(() => tls.log());
    const second = await shimPull(stack.dockerd, name);
    expect(second).toMatchObject({ listed: 1, skipped: false });
    expect(second.pull?.error, describePull(second.pull!)).toBeUndefined();
    expect(await manifestReads(since, 'ubuntu'), 'asked again').toBeGreaterThanOrEqual(1);
    expect((await engineImageInspect(stack.dockerd, `${name}:latest`)).image?.Id).toBe(expectedImageId(engine, moved));
  });
});
