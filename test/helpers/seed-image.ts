import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
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
export async function seedImage(options: {
  registryUrl: string;
  repository: string;
  tag: string;
  authorization?: string;
  content?: string;
}): Promise<SeededImage> {
  const { registryUrl, repository, tag } = options;
  const content = options.content ?? `seeded ${repository}:${tag}\n`;
  const headers: Record<string, string> = options.authorization ? { authorization: options.authorization } : {};
  return pushImage({
    registryUrl,
    repository,
    tag,
    headers,
    ...(await uploadLayer(registryUrl, repository, content, headers)),
  });
}

// A one-file layer (`hello.txt` holding `content`) uploaded as a blob: its descriptor and diff ID.
export async function uploadLayer(
  registryUrl: string,
  repository: string,
  content: string,
  headers: Record<string, string>,
): Promise<{ layer: { size: number; digest: string }; diffId: string }> {
  const tar = tarOneFile('hello.txt', Buffer.from(content));
  const layer = gzipSync(tar, { level: 9 }); // node's gzip header has mtime 0 and no name: reproducible
  await uploadBlob(registryUrl, repository, layer, headers);
  return { layer: { size: layer.length, digest: sha256(layer) }, diffId: sha256(tar) };
}

// The config (with the seed label) and the schema-2 manifest of a one-layer image whose layer
// blob is already in the registry. `byDigest` puts the manifest at its digest only (a
// platform's manifest under a manifest list), not at `tag`.
export async function pushImage(options: {
  registryUrl: string;
  repository: string;
  tag: string;
  headers: Record<string, string>;
  layer: { size: number; digest: string };
  diffId: string;
  architecture?: string;
  user?: string;
  byDigest?: boolean;
}): Promise<SeededImage> {
  const { registryUrl, repository, tag, headers, layer } = options;
  const config = Buffer.from(
    JSON.stringify({
      architecture: options.architecture ?? 'amd64',
      os: 'linux',
      config: {
        ...(options.user ? { User: options.user } : {}),
        Cmd: ['/hello.txt'],
        Labels: { 'e2e.seed': `${repository}:${tag}` },
      },
      rootfs: { type: 'layers', diff_ids: [options.diffId] },
      history: [{ created_by: 'test/helpers/seed-image.ts' }],
    }),
  );
  await uploadBlob(registryUrl, repository, config, headers);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: {
        mediaType: 'application/vnd.docker.container.image.v1+json',
        size: config.length,
        digest: sha256(config),
      },
      layers: [
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.size, digest: layer.digest },
      ],
    }),
  );
  const put = await fetch(`${registryUrl}/v2/${repository}/manifests/${options.byDigest ? sha256(manifest) : tag}`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': MANIFEST_TYPE },
    body: manifest,
  });
  if (put.status !== 201)
    throw new Error(`seedImage: PUT manifest ${repository}:${tag} → HTTP ${put.status} ${await put.text()}`);
  return { repository, tag, manifestDigest: sha256(manifest), configDigest: sha256(config), layerDigest: layer.digest };
}

// A blob in memory, or one too large for it: its digest and a way to stream its bytes.
export type BlobSource = Buffer | { digest: string; open: () => Readable };

export async function uploadBlob(
  registryUrl: string,
  repository: string,
  blob: BlobSource,
  headers: Record<string, string>,
): Promise<void> {
  const start = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers });
  if (start.status !== 202)
    throw new Error(`seedImage: start upload to ${repository} → HTTP ${start.status} ${await start.text()}`);
  const location = new URL(start.headers.get('location') ?? '', registryUrl);
  location.searchParams.set('digest', Buffer.isBuffer(blob) ? sha256(blob) : blob.digest);
  const body = Buffer.isBuffer(blob) ? blob : (Readable.toWeb(blob.open()) as ReadableStream);
  const put = await fetch(location, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'application/octet-stream' },
    body,
    duplex: 'half',
  } as RequestInit);
  if (put.status !== 201)
    throw new Error(`seedImage: upload blob to ${repository} → HTTP ${put.status} ${await put.text()}`);
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

// A POSIX ustar archive with one regular file, fixed owner and mtime so the digest is stable.
export function tarOneFile(name: string, data: Buffer): Buffer {
  return Buffer.concat([tarHeader(name, data.length), data, tarPadding(data.length), TAR_END]);
}

// The 1024 zero bytes that end a tar archive.
export const TAR_END = Buffer.alloc(1024);

export function tarPadding(size: number): Buffer {
  return Buffer.alloc((512 - (size % 512)) % 512);
}

// The ustar header of a regular file of `size` bytes (mode 0644, owner 0, mtime 0).
export function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
  const octal = (offset: number, length: number, value: number) =>
    field(offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
  field(0, 100, name);
  octal(100, 8, 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, 0);
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return header;
}
