// The figure a job feels: dstack-shim's Engine API pull (`POST /images/create`) on a fresh
// private dockerd whose daemon.json names `mirror`, timed from the request to the end of
// dockerd's progress stream (download, decompression, extraction). A fresh engine each time,
// so nothing is cached; its start and stop are not counted.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startDockerd } from '../../test/e2e/harness/dockerd.ts';
import { describePull, engineImageInspect, engineImagePull } from '../../test/e2e/harness/engine-api.ts';

let engines = 0;

export async function timedEnginePull({ workDir, mirror, image, tag, registryAuth, expectConfigDigest }) {
  const dir = join(workDir, `d${engines++}`);
  const dockerd = await startDockerd({ dir, daemonJson: { 'registry-mirrors': [mirror] } });
  try {
    const pull = await engineImagePull(dockerd, image, tag, registryAuth ? { registryAuth } : {});
    if (pull.status !== 200 || pull.error)
      throw new Error(`dockerd pull of ${image}:${tag} via ${mirror} failed: ${describePull(pull)}`);
    const inspect = await engineImageInspect(dockerd, `${image}:${tag}`);
    if (inspect.image?.Id !== expectConfigDigest)
      throw new Error(
        `dockerd pull via ${mirror}: the engine holds ${inspect.image?.Id ?? 'nothing'}, not ${expectConfigDigest}`,
      );
    return pull.ms;
  } finally {
    await dockerd.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
