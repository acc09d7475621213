// The benchmark's image: one layer holding one file of `bytes` pseudo-random bytes (xorshift,
// a few hundred MB/s, the same bytes every run), gzipped at level 1 (random data does not
// shrink, so the layer blob is about `bytes` long), written to a file and streamed into the
// registry. The blob GETs fetch that layer; the dockerd pulls pull the whole image.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pushImage, tarHeader, tarPadding, TAR_END, uploadBlob } from '../../test/helpers/seed-image.ts';

const CHUNK = 1 << 20;

// `bytes` bytes of xorshift32 output, 1 MiB at a time.
function* pseudoRandom(bytes, seed = 0x9e3779b9) {
  let x = seed >>> 0;
  for (let left = bytes; left > 0; left -= CHUNK) {
    const words = new Uint32Array(Math.ceil(Math.min(CHUNK, left) / 4));
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    yield Buffer.from(words.buffer, 0, Math.min(CHUNK, left));
  }
}

function* tarStream(name, bytes) {
  yield tarHeader(name, bytes);
  yield* pseudoRandom(bytes);
  yield tarPadding(bytes);
  yield TAR_END;
}

function hashing(hash) {
  return new Transform({
    transform(chunk, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
}

// Writes the layer to `path`; returns its digest and size and the tar's digest (the diff_id).
export async function writeLayer(path, bytes) {
  const tarHash = createHash('sha256');
  const gzHash = createHash('sha256');
  await pipeline(
    Readable.from(tarStream('blob.bin', bytes)),
    hashing(tarHash),
    createGzip({ level: 1 }),
    hashing(gzHash),
    createWriteStream(path),
  );
  return {
    digest: `sha256:${gzHash.digest('hex')}`,
    size: (await stat(path)).size,
    diffId: `sha256:${tarHash.digest('hex')}`,
  };
}

// Generates the layer and pushes the image `repository:tag` with it.
export async function seedLargeImage({ registryUrl, repository, tag, bytes, layerPath, authorization }) {
  const layer = await writeLayer(layerPath, bytes);
  const headers = authorization ? { authorization } : {};
  await uploadBlob(registryUrl, repository, { digest: layer.digest, open: () => createReadStream(layerPath) }, headers);
  const image = await pushImage({ registryUrl, repository, tag, headers, layer, diffId: layer.diffId });
  return { ...image, layerSize: layer.size };
}
