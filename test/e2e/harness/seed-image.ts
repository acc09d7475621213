import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

// A tiny image built by hand (one-file layer, config, schema-2 manifest) and uploaded through
// the registry HTTP API, so the tests need no internet and no image store.
export interface SeededImage {
  repository: string;
  tag: string;
  manifestDigest: string;
  configDigest: string;
  layerDigest: string;
}

const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';

// `authorization` is sent on every request (e.g. `Basic …` for an htpasswd registry); a token
// registry is seeded before auth is switched on (see docs/e2e.md).
export async function seedImage(options: { registryUrl: string; repository: string; tag: string; authorization?: string; content?: string }): Promise<SeededImage> {
  const { registryUrl, repository, tag } = options;
  const content = options.content ?? `seeded ${repository}:${tag}\n`;
  const tar = tarOneFile('hello.txt', Buffer.from(content));
  const layer = gzipSync(tar, { level: 9 }); // node's gzip header has mtime 0 and no name: reproducible
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/hello.txt'], Labels: { 'e2e.seed': `${repository}:${tag}` } },
    rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    history: [{ created_by: 'test/e2e/harness/seed-image.ts' }],
  }));
  const headers: Record<string, string> = options.authorization ? { authorization: options.authorization } : {};
  await uploadBlob(registryUrl, repository, layer, headers);
  await uploadBlob(registryUrl, repository, config, headers);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha256(config) },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: sha256(layer) }],
  }));
  const put = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': MANIFEST_TYPE },
    body: manifest,
  });
  if (put.status !== 201) throw new Error(`seedImage: PUT manifest ${repository}:${tag} → HTTP ${put.status} ${await put.text()}`);
  return { repository, tag, manifestDigest: sha256(manifest), configDigest: sha256(config), layerDigest: sha256(layer) };
}

async function uploadBlob(registryUrl: string, repository: string, blob: Buffer, headers: Record<string, string>): Promise<void> {
  const start = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers });
  if (start.status !== 202) throw new Error(`seedImage: start upload to ${repository} → HTTP ${start.status} ${await start.text()}`);
  const location = new URL(start.headers.get('location') ?? '', registryUrl);
  location.searchParams.set('digest', sha256(blob));
  const put = await fetch(location, { method: 'PUT', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: blob });
  if (put.status !== 201) throw new Error(`seedImage: upload blob to ${repository} → HTTP ${put.status} ${await put.text()}`);
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

// A POSIX ustar archive with one regular file, fixed owner and mtime so the digest is stable.
function tarOneFile(name: string, data: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
  const octal = (offset: number, length: number, value: number) => field(offset, length, value.toString(8).padStart(length - 1, '0') + '\0');
  field(0, 100, name);
  octal(100, 8, 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, data.length);
  octal(136, 12, 0);
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, padding, Buffer.alloc(1024)]);
}
