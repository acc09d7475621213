import { engineRoot, hostPackages, upstreamVersion, type EngineRoot } from './engine-roots.ts';
import { CLASSIC_STORE_FALLBACK, CONTAINERD_STORE_FALLBACK } from './dockerd-fallback.ts';

// The engines every dockerd scenario runs on (issue 16): the host's Debian 12 dockerd, trixie's
// 26.1 and sid's 28.5 with both image stores. The title of each run names the engine, its
// version and its store, so the CI log shows the matrix.
export interface DockerdEngine {
  label: string;
  version: string;
  // Absent: the host's own dockerd.
  root?: EngineRoot;
  // The containerd image store (`--feature containerd-snapshotter=true`), the default of a
  // fresh Docker 29 install; else the classic graph driver store.
  containerdStore: boolean;
}

export const HOST_DOCKERD: DockerdEngine = {
  label: `dockerd ${upstreamVersion(hostPackages(), 'docker.io')} (host, classic store)`,
  version: upstreamVersion(hostPackages(), 'docker.io'),
  containerdStore: false,
};

export function dockerdMatrix(): DockerdEngine[] {
  const trixie = engineRoot('trixie');
  const sid = engineRoot('sid');
  const on = (root: EngineRoot, containerdStore: boolean): DockerdEngine => {
    const version = upstreamVersion(root.packages, 'docker.io');
    return {
      label: `dockerd ${version} (${root.suite}, ${containerdStore ? 'containerd' : 'classic'} store)`,
      version,
      root,
      containerdStore,
    };
  };
  return [HOST_DOCKERD, on(trixie, false), on(sid, false), on(sid, true)];
}

// The sid engines a scenario uses beside dockerd: containerd 2.x (ctr, CRI), podman 5, skopeo.
export function sidRoot(): EngineRoot {
  return engineRoot('sid');
}

// The one of the two fallback lines (dockerd-fallback.ts) this engine's store logs.
export function fallbackLine(engine: DockerdEngine): RegExp {
  return engine.containerdStore ? CONTAINERD_STORE_FALLBACK : CLASSIC_STORE_FALLBACK;
}

// Whether a scenario's non-dockerd clients (ctr, podman, skopeo) come from this engine's root:
// the host's for the host dockerd, sid's for sid's classic-store dockerd. The containerd-store
// and trixie runs cover dockerd only, where the store and version make the difference.
export function runsClients(engine: DockerdEngine): boolean {
  return engine.root === undefined || (engine.root.suite === 'sid' && !engine.containerdStore);
}

// The version of a package beside this engine (its root's, or the host's), for test titles.
export function packageVersion(engine: DockerdEngine, name: string): string {
  return upstreamVersion(engine.root?.packages ?? hostPackages(), name);
}

// The ID the Engine API reports for a pulled image: the config digest on the classic store,
// the manifest digest (what it was pulled by) on the containerd store.
export function expectedImageId(
  engine: DockerdEngine | undefined,
  image: { manifestDigest: string; configDigest: string },
): string {
  return engine?.containerdStore ? image.manifestDigest : image.configDigest;
}

// `ctr images pull` arguments for this engine's containerd: ctr 2.x pulls through the
// daemon's transfer service by default, which dockerd's managed containerd has no unpack
// platforms for; `--local` is the client-side pull (the resolver and hosts dir of ctr 1.x).
export function ctrPullFlags(engine: DockerdEngine): string[] {
  return Number(packageVersion(engine, 'containerd').split('.')[0]) >= 2 ? ['--local'] : [];
}
