import { connect as connectHttp2 } from 'node:http2';
import { connect } from 'node:net';

// The kubelet's image pull, `runtime.v1.ImageService/PullImage`, spoken over gRPC on the CRI
// socket. Debian packages no crictl; the call is one request with one string field, so the
// protobuf is written by hand: PullImageRequest{image: ImageSpec{image}} (no auth, as the
// kubelet sends for an image without pull secrets) → PullImageResponse{image_ref}.
export interface CriPull {
  // gRPC status: 0 is OK.
  status: number;
  message: string;
  imageRef?: string;
}

// PullImageRequest.auth (field 2), an AuthConfig: what the kubelet fills from a pull secret or
// a credential provider's answer (username 1, password 2, auth 3, server_address 4,
// identity_token 5, registry_token 6).
export interface CriAuth {
  username?: string;
  password?: string;
  auth?: string;
  serverAddress?: string;
  identityToken?: string;
  registryToken?: string;
}

export function criPullImage(socket: string, image: string, timeoutMs = 90_000, auth?: CriAuth): Promise<CriPull> {
  const spec = field(1, Buffer.from(image, 'utf8'));
  const request = auth ? Buffer.concat([field(1, spec), field(2, authConfig(auth))]) : field(1, spec);
  return grpcCall(socket, '/runtime.v1.ImageService/PullImage', request, timeoutMs).then(
    ({ status, message, body }) => {
      const imageRef = body.length > 0 ? readString(body, 1) : undefined;
      return { status, message, ...(imageRef !== undefined ? { imageRef } : {}) };
    },
  );
}

function authConfig(auth: CriAuth): Buffer {
  const order: [number, string | undefined][] = [
    [1, auth.username],
    [2, auth.password],
    [3, auth.auth],
    [4, auth.serverAddress],
    [5, auth.identityToken],
    [6, auth.registryToken],
  ];
  return Buffer.concat(
    order
      .filter(([, value]) => value !== undefined && value !== '')
      .map(([number, value]) => field(number, Buffer.from(value!, 'utf8'))),
  );
}

function field(number: number, value: Buffer): Buffer {
  return Buffer.concat([varint((number << 3) | 2), varint(value.length), value]);
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

// The first length-delimited field `number` of a message, as UTF-8.
function readString(message: Buffer, number: number): string | undefined {
  let at = 0;
  const readVarint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = message[at++]!;
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
    }
  };
  while (at < message.length) {
    const key = readVarint();
    const wire = key & 7;
    if (wire === 2) {
      const length = readVarint();
      const value = message.subarray(at, at + length);
      at += length;
      if (key >>> 3 === number) return value.toString('utf8');
    } else if (wire === 0) readVarint();
    else return undefined;
  }
  return undefined;
}

function grpcCall(
  socket: string,
  path: string,
  message: Buffer,
  timeoutMs: number,
): Promise<{ status: number; message: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2('http://localhost', { createConnection: () => connect(socket) });
    session.on('error', reject);
    const frame = Buffer.alloc(5);
    frame.writeUInt32BE(message.length, 1);
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const timer = setTimeout(() => stream.close(), timeoutMs);
    const chunks: Buffer[] = [];
    let headers: Record<string, unknown> = {};
    stream.on('response', (h) => (headers = h));
    stream.on('trailers', (t) => (headers = { ...headers, ...t }));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('close', () => {
      clearTimeout(timer);
      session.close();
      const data = Buffer.concat(chunks);
      const status = headers['grpc-status'] === undefined ? -1 : Number(headers['grpc-status']);
      const text = decodeURIComponent(
        String(headers['grpc-message'] ?? (status === -1 ? `no gRPC status (timeout after ${timeoutMs} ms?)` : '')),
      );
      resolve({
        status,
        message: text,
        body: data.length >= 5 ? data.subarray(5, 5 + data.readUInt32BE(1)) : Buffer.alloc(0),
      });
    });
    stream.end(Buffer.concat([frame, message]));
  });
}
