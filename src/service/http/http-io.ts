import type { IncomingMessage, ServerResponse } from 'node:http';
import { CodedError } from '../../common/errors.ts';

// The few request/response primitives every route needs, without a framework.

// Writes a JSON body with a length, no caching (credentials and errors must not be cached by proxies).
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

// The contract's error body: {"error": code, "message": one line}.
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: code, message: message.replace(/\s*\n\s*/g, ' ') }, headers);
}

// Reads the whole body, refusing more than limitBytes (declared or actually sent).
// Event-based rather than `for await`: this runs on every credential request.
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    req.resume();
    return Promise.reject(tooLarge(limitBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        req.off('data', onData);
        req.resume();
        reject(tooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    // A client that goes away mid-body: settle. Removed once the body is complete, so the
    // 'close' every request ends with does not build (and throw away) an error each time.
    const onClose = () => reject(new CodedError('bad_request', 'the request body was cut off'));
    req.on('data', onData);
    req.once('end', () => {
      req.off('close', onClose);
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.once('error', reject);
    req.once('close', onClose);
  });
}

function tooLarge(limitBytes: number): CodedError {
  return new CodedError('payload_too_large', `request body is larger than ${limitBytes} bytes; send a smaller body`);
}

// The token of `Authorization: Bearer <token>`, or undefined when there is none.
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match ? match[1] : undefined;
}

// The user and password of `Authorization: Basic base64(user:password)`; undefined without an
// Authorization header; 'malformed' for one that is not a Basic credential (another scheme, not
// base64, no colon), which a realm must refuse rather than take for an anonymous request.
export function basicCredentials(
  req: IncomingMessage,
): { username: string; password: string } | 'malformed' | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Basic[ \t]+([A-Za-z0-9+/_-]+={0,2})[ \t]*$/i.exec(header);
  if (!match || match[1]!.length % 4 === 1) return 'malformed';
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return 'malformed';
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
