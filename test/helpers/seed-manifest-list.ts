import { pushImage, sha256, uploadLayer, type SeededImage } from './seed-image.ts';

// A multi-platform image as Docker Hub serves most official ones: a manifest list at `tag`
// naming one schema-2 manifest per platform (each put by digest, with its own config: its
// architecture and User), so a reader that follows the list (python-dxf, dstack's plan-time
// read) makes one request per platform and reads the config it picks.
export interface SeededManifestList {
  repository: string;
  tag: string;
  listDigest: string;
  platforms: Array<SeededImage & { architecture: string; user: string }>;
}

const LIST_TYPE = 'application/vnd.docker.distribution.manifest.list.v2+json';
const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';

export async function seedManifestList(options: {
  registryUrl: string;
  repository: string;
  tag: string;
  authorization?: string;
  platforms: Array<{ architecture: string; user: string }>;
}): Promise<SeededManifestList> {
  const { registryUrl, repository, tag } = options;
  const headers: Record<string, string> = options.authorization ? { authorization: options.authorization } : {};
  const platforms: SeededManifestList['platforms'] = [];
  const entries = [];
  for (const { architecture, user } of options.platforms) {
    const image = await pushImage({
      registryUrl,
      repository,
      tag,
      headers,
      ...(await uploadLayer(registryUrl, repository, `seeded ${repository}:${tag} for ${architecture}\n`, headers)),
      architecture,
      user,
      byDigest: true,
    });
    const manifest = await fetch(`${registryUrl}/v2/${repository}/manifests/${image.manifestDigest}`, {
      headers: { ...headers, accept: MANIFEST_TYPE },
    });
    const size = (await manifest.arrayBuffer()).byteLength;
    entries.push({
      mediaType: MANIFEST_TYPE,
      size,
      digest: image.manifestDigest,
      platform: { architecture, os: 'linux' },
    });
    platforms.push({ ...image, architecture, user });
  }
  const list = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: LIST_TYPE, manifests: entries }));
  const put = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': LIST_TYPE },
    body: list,
  });
  if (put.status !== 201)
    throw new Error(`seedManifestList: PUT ${repository}:${tag} → HTTP ${put.status} ${await put.text()}`);
  return { repository, tag, listDigest: sha256(list), platforms };
}
