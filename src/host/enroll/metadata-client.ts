import { request } from 'node:http';
import { CodedError } from '../../common/errors.ts';
import { inSetting, validateMetadataUrl } from '../../registry/url-rules.ts';

// Where every cloud's metadata service answers, from inside the VM.
export const DEFAULT_METADATA_URL = 'http://169.254.169.254';
// For tests only (a stand-in metadata server): docs/enrollment.md.
export const METADATA_URL_VARIABLE = 'DOCKER_CREDENTIAL_DSTACK_METADATA_URL';
const MAX_ANSWER_BYTES = 64 * 1024;

export interface MetadataRequest {
  method: 'GET' | 'PUT';
  path: string;
  headers: Record<string, string>;
}

export type MetadataFetch = (req: MetadataRequest) => Promise<string>;

// Plain HTTP to the link-local metadata service, no proxy (a proxy would answer for another
// machine), a short timeout, a bounded answer; anything but 200 is an error naming the path.
export function createMetadataFetch(baseUrl: string, timeoutMs: number): MetadataFetch {
  const base = inSetting(METADATA_URL_VARIABLE, () => validateMetadataUrl(baseUrl));
  return (req) =>
    new Promise((resolve, reject) => {
      const what = `the metadata service at ${base.host}${req.path.split('?', 1)[0]}`;
      const outgoing = request({
        hostname: base.hostname,
        port: base.port || 80,
        method: req.method,
        path: req.path,
        headers: req.headers,
        agent: false,
      });
      const timer = setTimeout(
        () =>
          outgoing.destroy(
            new CodedError('timeout', `${what} did not answer within ${timeoutMs} ms; is this a cloud VM?`),
          ),
        timeoutMs,
      );
      outgoing.on('error', (error) => {
        clearTimeout(timer);
        reject(
          error instanceof CodedError
            ? error
            : new CodedError(
                'unreachable',
                `cannot reach ${what} (${(error as NodeJS.ErrnoException).code ?? error.message}); is this a cloud VM?`,
              ),
        );
      });
      outgoing.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES)
            outgoing.destroy(new CodedError('bad_response', `${what} sent more than ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          clearTimeout(timer);
          if (res.statusCode !== 200) reject(new CodedError('bad_response', `${what} answered HTTP ${res.statusCode}`));
          else resolve(Buffer.concat(chunks).toString('utf8'));
        });
      });
      outgoing.end();
    });
}
