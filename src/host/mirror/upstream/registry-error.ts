import type { ServerResponse } from 'node:http';
import { registryErrorBody, type RegistryErrorCode } from '../../../contract/registry-error-body.ts';

export type { RegistryErrorCode } from '../../../contract/registry-error-body.ts';

// A failure the endpoint answers itself, in the registry's format, so that the engine's log
// (dockerd's classic store: "Attempting next endpoint for pull after error: …") shows a readable
// reason; the containerd store logs only the status ("trying next host after status: 404 …").
export class MirrorError extends Error {
  readonly status: number;
  readonly code: RegistryErrorCode;
  // The metric label and log word for the cause: bad_request, service_unreachable, …
  readonly reason: string;
  constructor(status: number, code: RegistryErrorCode, reason: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.reason = reason;
    this.name = 'MirrorError';
  }
}

export const API_VERSION_HEADER = 'docker-distribution-api-version';
export const API_VERSION = 'registry/2.0';

// The registry error body (src/contract/registry-error-body.ts); small, so it is sent whole.
// A HEAD request gets the headers only.
export function sendRegistryError(
  res: ServerResponse,
  method: string | undefined,
  status: number,
  code: RegistryErrorCode,
  message: string,
  extraHeaders: Record<string, string> = {},
): void {
  const body = `${JSON.stringify(registryErrorBody(code, `docker-credential-dstack mirror: ${message}`))}\n`;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    [API_VERSION_HEADER]: API_VERSION,
    ...extraHeaders,
  });
  res.end(method === 'HEAD' ? undefined : body);
}
