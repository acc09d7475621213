import { MirrorError } from '../upstream/registry-error.ts';

// `mirror --metadata-only`, for the endpoint on the dstack server host: the dstack server
// reads manifests, tag lists and the config blob a manifest names (its plan-time read), never
// a layer. So the endpoint serves a blob only when a manifest it served in the last
// REMEMBER_MS named that digest as its config, for that repository. A registry's `pull` grant
// covers manifests and blobs alike, so this cannot be decided upstream or at the realm: the
// endpoint is the one place that sees which is which.
export interface ReadScope {
  remember(repository: string, manifest: Buffer): void;
  // Throws the MirrorError to answer with when the blob is not a remembered config blob.
  checkBlob(repository: string, digest: string): void;
}

const REMEMBER_MS = 15 * 60_000;
const MAX_REMEMBERED = 10_000;

export function createMetadataOnlyScope(now: () => number = Date.now): ReadScope {
  const configs = new Map<string, number>();
  return {
    remember(repository, manifest) {
      const digest = configDigest(manifest);
      if (digest === undefined) return;
      const key = `${repository}@${digest}`;
      configs.delete(key);
      configs.set(key, now() + REMEMBER_MS);
      // Oldest first in insertion order: drop from the front past the bound.
      for (const first of configs.keys()) {
        if (configs.size <= MAX_REMEMBERED) break;
        configs.delete(first);
      }
    },
    checkBlob(repository, digest) {
      const until = configs.get(`${repository}@${digest}`);
      if (until !== undefined && now() < until) return;
      throw new MirrorError(
        403,
        'DENIED',
        'metadata_only',
        `blob ${digest} of ${repository} refused: this endpoint serves manifests, tag lists and the config blobs of manifests it served (--metadata-only, the dstack server's reads), not layer blobs; read its manifest first, or pull through a runner host's endpoint`,
      );
    },
  };
}

// The config digest of an image manifest (Docker schema 2 or OCI); lists and indexes have none.
function configDigest(manifest: Buffer): string | undefined {
  try {
    const digest = (JSON.parse(manifest.toString('utf8')) as { config?: { digest?: unknown } }).config?.digest;
    return typeof digest === 'string' && /^sha256:[0-9a-f]{64}$/.test(digest) ? digest : undefined;
  } catch {
    return undefined;
  }
}
