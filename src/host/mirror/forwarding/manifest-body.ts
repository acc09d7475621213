import type { ClientRequest, IncomingMessage } from 'node:http';
import { MirrorError } from '../upstream/registry-error.ts';

// Distribution's cap on a manifest (registry/handlers: maxManifestBodySize): no engine needs
// more, and an upstream that sends more is broken or hostile. A manifest is small, so it is
// read whole before the engine sees a byte: a Content-Length past the cap is refused at once
// (nothing read), a body without one that passes the cap is cut there; either way the engine
// gets a registry error, never a truncated manifest, and memory stays bounded by the cap.
export const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;

export function readManifestBody(
  response: IncomingMessage,
  request: ClientRequest,
  upstreamUrl: string,
  max = MANIFEST_MAX_BYTES,
): Promise<Buffer> {
  const declared = Number(response.headers['content-length']);
  if (response.headers['content-length'] !== undefined && Number.isFinite(declared) && declared > max) {
    request.destroy();
    return Promise.reject(tooLarge(upstreamUrl, `declares ${declared} bytes`, max));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (error: MirrorError): void => {
      if (done) return;
      done = true;
      request.destroy();
      reject(error);
    };
    response.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > max) fail(tooLarge(upstreamUrl, `runs past ${max} bytes`, max));
      else chunks.push(chunk);
    });
    response.once('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks));
    });
    // A close before the end and a stream error are the same failure: the body was cut short.
    const brokeOff = (): void =>
      fail(
        new MirrorError(
          502,
          'UNAVAILABLE',
          'upstream_unreachable',
          `upstream ${upstreamUrl} broke off the manifest after ${size} bytes`,
        ),
      );
    response.once('close', () => {
      if (!response.complete) brokeOff();
    });
    response.on('error', brokeOff);
  });
}

function tooLarge(upstreamUrl: string, what: string, max: number): MirrorError {
  return new MirrorError(
    502,
    'MANIFEST_INVALID',
    'manifest_too_large',
    `upstream ${upstreamUrl} sent a manifest that ${what}, past the ${max / 1024 / 1024} MiB cap on manifests (as distribution's): refused; check the upstream`,
  );
}
