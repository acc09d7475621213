import type { ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';

export interface CollectedAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

// An HTTP answer's body, read up to `maxBytes`: past it the request is destroyed with
// `tooLarge()` (the request's 'error' handler reports it), so a huge or endless body never
// sits in memory. Shared by the service client and the endpoint's upstream client.
export function collectAnswer(
  request: ClientRequest,
  response: IncomingMessage,
  maxBytes: number,
  tooLarge: () => Error,
  done: (answer: CollectedAnswer) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  response.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > maxBytes) request.destroy(tooLarge());
    else chunks.push(chunk);
  });
  response.on('end', () => {
    done({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') });
  });
  response.on('error', () => {}); // reported through the request's 'error'
}
